"""medtransfer.features."""
