"""What an operator watches: metrics, request and job ids on log lines, the provider's state."""
