"""Gateway adapters: the in-memory fake (:mod:`enrollpay.gateways.fake`) and Stripe."""
