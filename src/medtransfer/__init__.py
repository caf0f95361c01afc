"""medtransfer: transfer learning for medicine, from a data-rich source to a data-poor target."""

__version__ = "0.1.0"
