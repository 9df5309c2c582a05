// Package fleet is the worker's queue side: it consumes jobs from JetStream
// (priority fetch, one slot per concurrent job), runs each through a
// Processor (the pipeline), uploads the result files, stores every
// transition in the job's status record and tells JetStream what became of
// the delivery.
//
// Decide is the one pure function that maps what happened to a delivery
// (Outcome: success, heartbeat, canceled, shutdown, permanent or transient
// failure, a job already finished, a terminal status that could not be
// stored) to an Action: the status to store with its errcode code, whether
// to dead-letter the message, and the JetStream verb (Ack, Nak with
// Backoff's delay, InProgress, Term). Worker.apply only carries Actions out.
//
// Around that: heartbeats (InProgress every AckWait/3), cancel requests
// learnt from progress writes, per-job timeouts, draining on shutdown,
// webhook notification after every stored transition, health (/healthz,
// /readyz) and Prometheus metrics, and ParseDevices for the devices a
// worker runs on.
package fleet
