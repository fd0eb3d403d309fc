#!/usr/bin/env python3
"""A podium notification worker in Python, written against the wire contract only.

It consumes podium.notification.* commands from notification.commands in the consumer
group podium-worker-notification, "sends" the e-mail, and answers each command with a
reply CloudEvent on notification.replies:

    consume -> decode and check -> dedupe by idempotency key -> handle -> reply -> commit

Dependencies: python3-kafka (kafka-python) and python3-zstandard (podium's producers
compress their record batches with zstd), nothing else. See README.md next to this file.

    /usr/bin/python3 worker.py --brokers 127.0.0.1:9092
"""

import argparse
import json
import logging
import os
import re
import signal
import sys
import uuid
from datetime import datetime, timezone

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError, NoBrokersAvailable
from kafka.structs import OffsetAndMetadata

log = logging.getLogger("notification-worker")

WORKER = "notification"
COMMANDS_TOPIC = WORKER + ".commands"
REPLIES_TOPIC = WORKER + ".replies"
DLQ_TOPIC = WORKER + ".dlq"

SEND_CONFIRMATION = "podium.notification.send-confirmation.v1"
SEND_CANCELLATION_NOTICE = "podium.notification.send-cancellation-notice.v1"
COMMAND_TYPES = (SEND_CONFIRMATION, SEND_CANCELLATION_NOTICE)

REPLY_SCHEMA = "https://github.com/podiumhq/podium/schemas/reply.v1.json"
STRUCTURED = "application/cloudevents+json"
BOUNCE_DOMAIN = "bounce.example"
MAX_RECORD_SIZE = 1 << 20
ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
CURRENCY = re.compile(r"[A-Z]{3}")

# Reply and message IDs are UUIDs derived from the command, so that a command delivered
# twice is answered with the same reply id and sends the same message.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/podiumhq/podium/examples/python-worker")


# --- partitioning -------------------------------------------------------------------------

def murmur2(data):
    """The Java client's Utils.murmur2 (seed 0x9747b28c), as an unsigned 32-bit int."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[length - length % 4:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def home_partition(key, partitions):
    """An order's home partition: murmur2 of the key up to its first '/' (the order ID),
    positive, modulo the partition count. The Java client's default partitioner, and
    podium's internal/kafka.HomePartition."""
    order_id = key.split(b"/", 1)[0]
    return (murmur2(order_id) & 0x7FFFFFFF) % partitions


# --- decoding and checking commands -------------------------------------------------------

class Malformed(Exception):
    """A record that breaks the contract: it is dead-lettered, never retried."""


def decode(record):
    """Returns the CloudEvent of a structured- or binary-mode record as one dict of
    attributes plus "data", or raises Malformed."""
    value = record.value or b""
    if len(value) > MAX_RECORD_SIZE:
        raise Malformed("value is %d bytes, limit %d" % (len(value), MAX_RECORD_SIZE))
    headers = {}
    for k, v in record.headers or []:
        headers.setdefault(k.lower(), (v or b"").decode("utf-8", "replace"))
    content_type = headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()

    if "ce_specversion" in headers and media_type != STRUCTURED:
        event = {k[3:]: v for k, v in headers.items() if k.startswith("ce_")}  # binary mode
        if content_type:
            event["datacontenttype"] = content_type
        try:
            event["attempt"] = int(event["attempt"])
        except (KeyError, ValueError):
            raise Malformed("ce_attempt: an integer is required")
        event["data"] = parse_json(value, "data")
    else:
        event = parse_json(value, "structured CloudEvent")  # structured mode
        if not isinstance(event, dict) or "specversion" not in event:
            raise Malformed("not a CloudEvent: no content-type %s, no ce_specversion header" % STRUCTURED)
    check_command(event)
    return event


def parse_json(value, what):
    try:
        return json.loads(value)
    except ValueError as e:  # bad UTF-8 or bad JSON
        raise Malformed("%s: malformed JSON: %s" % (what, e))


def check_command(e):
    """The envelope schema's rules for a command, and the data schema of its type."""
    if e.get("specversion") != "1.0":
        raise Malformed("specversion: want 1.0")
    for name in ("id", "source", "type", "subject", "sagaid", "step", "idempotencykey"):
        if not isinstance(e.get(name), str) or not e[name]:
            raise Malformed("%s: a non-empty string is required" % name)
    if e["type"] not in COMMAND_TYPES:
        raise Malformed("type %r is not a command of worker %s" % (e["type"], WORKER))
    attempt = e.get("attempt")
    if type(attempt) is not int or attempt < 1:
        raise Malformed("attempt: an integer >= 1 is required")
    if "json" not in e.get("datacontenttype", "application/json").lower():
        raise Malformed("datacontenttype: only JSON data")
    data = e.get("data")
    if not isinstance(data, dict):
        raise Malformed("data: a JSON object is required")
    if not isinstance(data.get("order_id"), str) or not ORDER_ID.fullmatch(data["order_id"]):
        raise Malformed("/order_id: 1-64 characters of [A-Za-z0-9._:-] required")
    if not isinstance(data.get("email"), str) or not 3 <= len(data["email"]) <= 254:
        raise Malformed("/email: an e-mail address is required")
    if e["type"] == SEND_CONFIRMATION:
        if type(data.get("total")) is not int or data["total"] < 0:
            raise Malformed("/total: an amount in minor units is required")
        if not isinstance(data.get("currency"), str) or not CURRENCY.fullmatch(data["currency"]):
            raise Malformed("/currency: an ISO 4217 code is required")
    elif not isinstance(data.get("reason"), str):
        raise Malformed("/reason: a string is required")
    if e["subject"] != data["order_id"]:
        raise Malformed("subject %r, data order_id %r" % (e["subject"], data["order_id"]))


# --- the business logic -------------------------------------------------------------------

def send(command, effects):
    """Sends the e-mail of a command; returns (outcome, reply data). Mirrors the Go
    reference worker: mail to bounce.example bounces (a business failure)."""
    email = command["data"]["email"]
    at = email.rfind("@")
    if at < 1 or at == len(email) - 1:
        return "failure", {"reason": "invalid_recipient", "message": "recipient %r has no domain" % email}
    if email[at + 1:].lower() == BOUNCE_DOMAIN:
        return "failure", {"reason": "bounced", "message": "the message to %s bounced" % email}
    message_id = str(uuid.uuid5(ID_NAMESPACE, "message\x00" + command["idempotencykey"]))
    kind = "confirmation_sent" if command["type"] == SEND_CONFIRMATION else "cancellation_notice_sent"
    try:
        effects.record(command, kind, message_id)
    except OSError as e:  # transient: the orchestrator retries, nothing is stored
        return "error", {"reason": "effect_log", "message": str(e)}
    log.info("sent %s order_id=%s message_id=%s", kind, command["subject"], message_id)
    return "success", {"result": {"message_id": message_id}}


class Effects:
    """The worker's effects, one JSON line each (the Go workers' --effects-file format).
    Stands in for the mail provider: the tests count the messages sent per key."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8") if path else None

    def record(self, command, kind, ref):
        if self.file:
            self.file.write(json.dumps({
                "worker": WORKER, "idempotency_key": command["idempotencykey"],
                "order_id": command["subject"], "step": command["step"], "kind": kind,
                "command_id": command["id"], "ref": ref, "time": now(),
            }) + "\n")

    def sync(self):
        if self.file:
            self.file.flush()
            os.fsync(self.file.fileno())


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- replies ------------------------------------------------------------------------------

def reply_type(command_type):
    """podium.notification.send-confirmation.v1 -> podium.notification.send-confirmation.reply.v1"""
    base, version = command_type.rsplit(".", 1)
    return "%s.reply.%s" % (base, version)


def reply(command, outcome, data, source):
    """The reply CloudEvent (structured mode) to a command."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(ID_NAMESPACE, "reply\x00" + command["id"])),
        "source": source,
        "type": reply_type(command["type"]),
        "subject": command["subject"],
        "time": now(),
        "datacontenttype": "application/json",
        "dataschema": REPLY_SCHEMA,
        "sagaid": command["sagaid"],
        "step": command["step"],
        "attempt": command["attempt"],
        "correlationid": command["id"],  # the command answered
        "causationid": command["id"],
        "idempotencykey": command["idempotencykey"],
        "outcome": outcome,
        "data": data,
    }
    if command.get("traceparent"):
        event["traceparent"] = command["traceparent"]
    return event


# --- the consumer loop --------------------------------------------------------------------

class Worker:
    def __init__(self, consumer, producer, effects, source, partitions):
        self.consumer = consumer
        self.producer = producer
        self.effects = effects
        self.source = source
        self.partitions = partitions  # topic -> partition count
        # idempotency key -> (outcome, data) of the success or failure already replied.
        # In memory and unbounded: a production worker persists it and expires old keys
        # (see README.md).
        self.replied = {}

    def handle(self, record):
        """Returns the records to write for one command record: (topic, partition, key,
        value, headers) tuples."""
        try:
            if not record.key:
                raise Malformed("record has no key: commands are keyed by order ID")
            command = decode(record)
        except Malformed as e:
            return [self.dead_letter(record, str(e))]

        home = home_partition(record.key, self.partitions[COMMANDS_TOPIC])
        if home != record.partition:  # a producer with another partitioner
            log.info("forwarding a command to its home partition order_id=%s partition=%d",
                     command["subject"], home)
            return [(COMMANDS_TOPIC, home, record.key, record.value, record.headers)]

        key = command["idempotencykey"]
        if key in self.replied:  # a repeat: the same answer, no second e-mail
            outcome, data = self.replied[key]
            log.debug("repeated idempotency key %s: re-sending the stored reply", key)
        else:
            try:
                outcome, data = send(command, self.effects)
            except Exception as e:  # a bug: retryable, like a panic in a Go handler
                log.exception("handler error order_id=%s", command["subject"])
                outcome, data = "error", {"reason": "handler_error", "message": str(e)}
            if outcome != "error":
                self.replied[key] = (outcome, data)
        event = reply(command, outcome, data, self.source)
        subject = command["subject"].encode()
        value = json.dumps(event, separators=(",", ":")).encode()
        headers = [("content-type", STRUCTURED.encode())]
        return [(REPLIES_TOPIC, home_partition(subject, self.partitions[REPLIES_TOPIC]), subject, value, headers)]

    def dead_letter(self, record, reason):
        log.warning("dead-lettering a record partition=%d offset=%d reason=%s",
                    record.partition, record.offset, reason)
        headers = list(record.headers or []) + [
            ("dlq.reason", reason.encode()),
            ("dlq.topic", record.topic.encode()),
            ("dlq.partition", str(record.partition).encode()),
            ("dlq.offset", str(record.offset).encode()),
        ]
        partition = home_partition(record.key, self.partitions[DLQ_TOPIC]) if record.key else 0
        return (DLQ_TOPIC, partition, record.key, record.value, headers)

    def run(self, stopping):
        """Polls batches until stopping() is true. Each batch: handle every record, write
        the outputs (all in-sync replicas acknowledge), then commit its offsets."""
        while not stopping():
            batch = self.consumer.poll(timeout_ms=200)
            if not batch:
                continue
            outputs, commits = [], {}
            for tp, records in batch.items():
                for record in records:
                    outputs.extend(self.handle(record))
                commits[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
            try:
                self.effects.sync()  # an effect is durable before the reply reporting it
                futures = [self.producer.send(topic, value=value, key=key, headers=headers, partition=partition)
                           for topic, partition, key, value, headers in outputs]
                self.producer.flush()
                for f in futures:
                    f.get(timeout=0)  # raises the write's error, if any
            except (KafkaError, OSError) as e:
                log.error("writing a batch's replies: %s; handling it again", e)
                for tp, records in batch.items():
                    self.consumer.seek(tp, records[0].offset)
                continue
            try:
                self.consumer.commit(commits)
            except KafkaError as e:  # a rebalance: the new owner gets the commands again
                log.warning("committing offsets: %s", e)


class Rebalance(ConsumerRebalanceListener):
    """Logs the partitions the group assigns (the test waits for this line)."""

    def on_partitions_revoked(self, revoked):
        if revoked:
            log.info("revoked partitions %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned):
        log.info("assigned partitions %s of %s", sorted(tp.partition for tp in assigned), COMMANDS_TOPIC)


def partition_counts(producer):
    """The partition count of every topic the worker writes, checked co-partitioned."""
    counts = {}
    for topic in (COMMANDS_TOPIC, REPLIES_TOPIC, DLQ_TOPIC):
        try:
            parts = producer.partitions_for(topic)
        except KafkaTimeoutError:
            parts = None
        if not parts:
            raise SystemExit("topic %s not found: create podium's topics first (podium topics create)" % topic)
        counts[topic] = len(parts)
    if counts[COMMANDS_TOPIC] != counts[REPLIES_TOPIC]:
        raise SystemExit("%s has %d partitions, %s %d: podium's topics must all have the same count"
                         % (COMMANDS_TOPIC, counts[COMMANDS_TOPIC], REPLIES_TOPIC, counts[REPLIES_TOPIC]))
    return counts


def parse_args(argv):
    p = argparse.ArgumentParser(description="A podium notification worker in Python.")
    p.add_argument("--brokers", default=os.environ.get("PODIUM_KAFKA_BROKERS", "127.0.0.1:9092"),
                   help="bootstrap brokers, comma-separated host:port (env PODIUM_KAFKA_BROKERS; default %(default)s)")
    p.add_argument("--group", default="podium-worker-" + WORKER, help="consumer group (default %(default)s)")
    p.add_argument("--source", default="podium/examples/python-worker",
                   help="CloudEvents source of the replies (default %(default)s)")
    p.add_argument("--effects-file", default="", help="append a JSON line per e-mail sent to this file")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = p.parse_args(argv)
    args.brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    bad = [b for b in args.brokers if not re.match(r"^[^:\s]+:\d{1,5}$", b)]
    if not args.brokers or bad:
        p.error("--brokers: want host:port[,host:port...], got %r" % ",".join(bad))
    if not args.group.strip():
        p.error("--group: must not be empty")
    if not args.source or re.search(r"\s", args.source):
        p.error("--source: a URI reference without spaces is required")
    return args


def main(argv):
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "debug":
        logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python is chatty at info
    log.info("config brokers=%s group=%s source=%s effects_file=%s",
             ",".join(args.brokers), args.group, args.source, args.effects_file or "-")

    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.append(signum))

    try:
        effects = Effects(args.effects_file)
    except OSError as e:
        log.error("opening the effects file: %s", e)
        return 2
    try:
        producer = KafkaProducer(bootstrap_servers=args.brokers, client_id="podium-python-" + WORKER,
                                 acks="all", retries=5, max_in_flight_requests_per_connection=1,
                                 max_block_ms=30000)
        consumer = KafkaConsumer(bootstrap_servers=args.brokers, client_id="podium-python-" + WORKER,
                                 group_id=args.group, enable_auto_commit=False,
                                 auto_offset_reset="earliest", max_poll_records=500)
    except NoBrokersAvailable:
        log.error("no broker answers at %s", ",".join(args.brokers))
        return 1
    try:
        worker = Worker(consumer, producer, effects, args.source, partition_counts(producer))
        consumer.subscribe([COMMANDS_TOPIC], listener=Rebalance())
        worker.run(lambda: bool(stop))
    except KafkaError as e:
        log.error("%s", e)
        return 1
    finally:
        logging.getLogger("kafka.consumer.fetcher").setLevel(logging.CRITICAL)  # the fetch in flight is cancelled
        consumer.close(autocommit=False)  # leaves the group: its partitions move at once
        producer.close(timeout=10)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
