"""Decision metrics (per tenant and global, in this process) and the alerts they raise."""
