"""The embedded engines: one regorus engine per tenant, evaluated on dedicated threads."""

import os

# regorus (anyhow) captures a Rust backtrace into every error when RUST_BACKTRACE is set: slow,
# and noise in a compiler message. Library errors never need one.
os.environ.setdefault("RUST_LIB_BACKTRACE", "0")
