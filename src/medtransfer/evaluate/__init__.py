"""medtransfer.evaluate."""
