"""MLLP (minimal lower layer protocol): framing of HL7 v2 messages on a TCP stream, bytes only."""

from engine.connectors.mllp.framing import END_BLOCK, START_BLOCK, FrameDecoder, Oversized, frame

__all__ = ["END_BLOCK", "START_BLOCK", "FrameDecoder", "Oversized", "frame"]
