"""sandbox/bitrix24: a faithful local Bitrix24 REST portal for tests, benchmarks and the demo.

Map (each module says what it owns):
  core.py       ``@method`` registry, RestError, Caller, CallContext, Page
  config.py     SandboxConfig / WebhookConfig (limits, faults, state file, webhooks, the local app)
  app.py        create_app(config): /rest/<uid>/<code>/<method>, /rest/<method>?auth=, /oauth/token/, faults
  knobs.py      /_sandbox/… test knobs (state, clock, faults, limits, system errors, install, accept, log…)
  state.py      Portal: users (indexed by id/e-mail/XML_ID), departments, groups, credentials, extensions
  clock.py      the settable portal clock; persist.py JSON state file; params.py PHP bracket notation
  envelope.py   result/total/next/time; limits.py leaky bucket + operating time; batch.py; dispatch.py
  auth.py       webhooks, tokens, scopes, the OAuth token server; eventbus.py events; delivery.py POSTs
  methods/      one module per method family (users, departments, groups, group_members, events, system…)
  testing.py    run_sandbox(), Knobs, Rest, capture_server() for tests of any package

Every behaviour cites ../shared/reference/bitrix24-rest.md (§N) or the Bitrix24 doc page it follows.
"""
