//! The serving-switch fallback (`rollback model M --fallback [--end]`): an environment variable on
//! the serving Deployment or a Service's selector flipped to the pre-built fallback, and back.
