"""The pipeline's job functions (create, poll, fetch, sweep) and the steps they share.

Each job function is thin: it validates its arguments (`jobs.contract`), calls the Persona client
and hands state changes to `jobs.state`; the policies it applies live in `jobs.policy`.
"""
