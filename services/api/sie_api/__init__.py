"""The SIE API service: FastAPI wiring over the `sie.core` package."""
