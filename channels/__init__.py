"""One module per channel: an inbound half (parse + verify) and an outbound half (send)."""
