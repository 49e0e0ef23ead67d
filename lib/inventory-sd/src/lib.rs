//! The embedded inventory poller: HTTP inventory in, Prometheus file_sd targets out.
