"""SIE, the Smart Ingestion Engine."""

__version__ = "0.1.0"
