"""Channel adapters: each module turns one provider's traffic into InboundMessage and sends OutboundMessage."""
