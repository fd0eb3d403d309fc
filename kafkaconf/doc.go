// Package kafkaconf is how every podium component — the orchestrator, the workers, the public
// client, and a user's own processes — reaches a Kafka cluster: the bootstrap brokers, the
// client ID, TLS, SASL and an optional dial hook, in one value, Config.
//
// The zero Config connects to 127.0.0.1:9092 as client "podium", in plain text, without
// authentication. Set Brokers for a real cluster, TLS to wrap every connection in TLS, and
// SASL to authenticate every connection. podium works with kafka-go's mechanisms, built with
// its own packages, for example:
//
//	import (
//		"github.com/segmentio/kafka-go/sasl/plain"
//		"github.com/segmentio/kafka-go/sasl/scram"
//	)
//
//	cfg := kafkaconf.Config{Brokers: []string{"kafka-1:9093"}, TLS: &tls.Config{MinVersion: tls.VersionTLS12}}
//	cfg.SASL = plain.Mechanism{Username: "podium", Password: secret}
//	// or: cfg.SASL, err = scram.Mechanism(scram.SHA512, "podium", secret)
//
// (The podium binary builds the same mechanisms from its --kafka-sasl-* flags; a program
// that imports podium needs nothing more than those kafka-go packages.)
//
// Config turns into kafka-go's connection objects with Dialer (Conn, ConsumerGroup),
// Transport (Writer, Client) and Client, with the timeouts documented on each.
//
// # Concurrency
//
// Config is a plain value: copy it freely. Its methods do not modify it and are safe for
// concurrent use as long as nobody writes its fields meanwhile; Dialer, Transport and Client
// return new objects, safe for concurrent use as documented by kafka-go. The TLS config and
// SASL mechanism are shared, not copied, by every object made from a Config.
package kafkaconf
