"""medtransfer.finetune."""
