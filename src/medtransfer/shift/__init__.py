"""medtransfer.shift."""
