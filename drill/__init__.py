"""The failover drill (`make drill`, docs/deploy.md): a pg_auto_failover cluster, two `patron
serve` behind nginx and a `patron worker` on loopback ports, a client writing through it while
parts are killed, and the checks that nothing acknowledged was lost or done twice."""
