"""medtransfer.datasets."""
