"""medtransfer."""
