-- Housekeeping forgets deliveries that ended (delivered or failed) once they are older than the retention:
-- this index finds them without reading the log.
CREATE INDEX webhook_deliveries_ended ON webhook_deliveries (created_at) WHERE status <> 'pending';
