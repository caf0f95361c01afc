"""medtransfer.explain."""
