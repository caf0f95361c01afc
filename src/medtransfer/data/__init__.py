"""medtransfer.data."""
