"""Remote OPA engines: pooled clients, health checks, circuit breakers and failover."""
