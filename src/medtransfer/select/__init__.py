"""medtransfer.select."""
