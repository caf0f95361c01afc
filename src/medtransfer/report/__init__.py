"""medtransfer.report."""
