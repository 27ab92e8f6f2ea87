"""The domain: what the worker does with Persona, independent of how the processes run it.

- `jobs.persona`: the typed Persona API client (depends on nothing else of ours);
- `jobs.policy`: pure rules (terminal statuses, backoff), tested without I/O;
- `jobs.state`: Redis state (connections, keys, records, exactly-once publication, the results
  stream reader);
- `jobs.pipeline`: the pipeline's job functions (create, poll, fetch, sweep);
- `jobs.actions`: the decision and lifecycle jobs;
- `jobs.webhooks`: Persona's signed webhooks;
- `jobs.contract` (the job wire format), `jobs.documents` (the events and job results, typed),
  `jobs.producer` (helpers to enqueue), `jobs.context` (the process singletons a job receives),
  `jobs.idempotency` (Idempotency-Keys derived from job ids), `jobs.errors`, `jobs.metrics`,
  `jobs.log_context`.
"""
