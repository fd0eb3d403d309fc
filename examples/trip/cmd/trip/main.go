// Command trip runs the trip saga on a Kafka cluster: one process with an orchestrator that
// runs the trip saga type and the flights, hotels and cars workers (package providers). Run
// more of them for more capacity: each joins the orchestrator group and the workers' groups,
// and the partitions spread over them.
//
//	trip --brokers 127.0.0.1:9092 --create-topics --demo 8
//
// --create-topics creates the topics it needs (trips.requested, podium's shared
// orders.control, orders.events, orders.dlq and podium.saga-state, and the workers'
// topics), leaving those that exist alone. --demo N requests N trips of every outcome,
// prints how each ended (read from orders.events), and exits; without it, the process runs
// until SIGINT or SIGTERM. Every flag has an environment fallback (TRIP_BROKERS, ...).
//
// The providers keep their bookings in memory: restarting the process forgets them. It is
// a demo, not a travel agency.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/podiumhq/podium/client"
	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/kafkaconf"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/workers"

	"example.com/trip"
	"example.com/trip/providers"
)

func main() {
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, log)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		log.Error().Err(err).Msg("trip")
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	brokers      []string
	partitions   int
	createTopics bool
	demo         int
}

// parse reads the flags. Each defaults to its environment variable TRIP_<NAME> when set.
func parse(args []string) (config, error) {
	var errs []error
	env := func(name string, parse func(string) error) {
		key := "TRIP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if err := parse(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", key, v, err))
			}
		}
	}
	brokers, partitions, create, demo := kafkaconf.DefaultBroker, events.DefaultPartitions, false, 0
	env("brokers", func(v string) error { brokers = v; return nil })
	env("partitions", func(v string) (err error) { partitions, err = strconv.Atoi(v); return err })
	env("create-topics", func(v string) (err error) { create, err = strconv.ParseBool(v); return err })
	env("demo", func(v string) (err error) { demo, err = strconv.Atoi(v); return err })

	fs := flag.NewFlagSet("trip", flag.ContinueOnError)
	cfg := config{}
	fs.StringVar(&brokers, "brokers", brokers, "bootstrap brokers, host:port[,host:port...] (TRIP_BROKERS)")
	fs.IntVar(&cfg.partitions, "partitions", partitions, "partitions of every topic (TRIP_PARTITIONS)")
	fs.BoolVar(&cfg.createTopics, "create-topics", create, "create the missing topics first (TRIP_CREATE_TOPICS)")
	fs.IntVar(&cfg.demo, "demo", demo, "request this many trips, print how each ends, and exit (TRIP_DEMO)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg.brokers = strings.Split(brokers, ",")
	if cfg.partitions < 1 {
		errs = append(errs, fmt.Errorf("--partitions %d: want at least 1", cfg.partitions))
	}
	if cfg.demo < 0 {
		errs = append(errs, fmt.Errorf("--demo %d: want a count >= 0", cfg.demo))
	}
	return cfg, errors.Join(errs...)
}

// run runs the orchestrator and the workers until ctx ends (or, with --demo, until every
// trip requested has ended).
func run(ctx context.Context, args []string, out io.Writer, log zerolog.Logger) error {
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	log.Info().Strs("brokers", cfg.brokers).Int("partitions", cfg.partitions).
		Bool("create_topics", cfg.createTopics).Int("demo", cfg.demo).Msg("configuration")
	kcfg := kafkaconf.Config{Brokers: cfg.brokers, ClientID: "trip"}
	ocfg := orchestrator.Config{
		Kafka: kcfg, Sagas: []orchestrator.SagaType{trip.Saga(trip.Options{})}, Partitions: cfg.partitions,
		Logger: log.With().Str("component", "orchestrator").Logger(),
	}
	if cfg.createTopics {
		if err := orchestrator.CreateTopics(ctx, ocfg); err != nil {
			return err
		}
	}

	g, ctx := errgroup.WithContext(ctx)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g.Go(func() error {
		return orchestrator.Run(runCtx, ocfg)
	})
	// The effect logs forget a booking after the workers' processed retention (24h), when
	// the runtime no longer runs a command again for its idempotency key.
	muxes := map[string]*workers.Mux{
		trip.WorkerFlights: providers.Flights(workers.NewMemoryEffectsFor(24 * time.Hour)),
		trip.WorkerHotels:  providers.Hotels(workers.NewMemoryEffectsFor(24 * time.Hour)),
		trip.WorkerCars:    providers.Cars(workers.NewMemoryEffectsFor(24 * time.Hour)),
	}
	for name, mux := range muxes {
		g.Go(func() error {
			return workers.Run(runCtx, workers.Config{
				Worker: name, Kafka: kcfg, Partitions: cfg.partitions, Types: mux.Types(),
				Logger: log.With().Str("component", "worker-"+name).Logger(),
			}, mux)
		})
	}
	if cfg.demo > 0 {
		g.Go(func() error {
			defer stop() // every trip ended (or the demo failed): stop the rest
			return demo(runCtx, kcfg, cfg.demo, out)
		})
	}
	return g.Wait()
}

// demo requests n trips, cycling through the outcomes the providers' rules produce, and
// prints how each ends, as its lifecycle event on orders.events says.
func demo(ctx context.Context, kcfg kafkaconf.Config, n int, out io.Writer) error {
	c, err := client.New(kcfg)
	if err != nil {
		return err
	}
	defer c.Close()
	kinds := []struct {
		name string
		edit func(*trip.Requested)
	}{
		{"booked", func(*trip.Requested) {}},
		{"no rooms", func(r *trip.Requested) { r.Hotel.City = providers.FullCity }},
		{"no car, still booked", func(r *trip.Requested) { r.Car.City = providers.NoCarsCity }},
		{"no seats", func(r *trip.Requested) { r.Flight.To = providers.NoSeatsDestination }},
		{"without a car", func(r *trip.Requested) { r.Car = nil }},
	}
	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	pending := map[string]string{}
	for i := range n {
		k := kinds[i%len(kinds)]
		r := trip.Requested{
			TripID:    fmt.Sprintf("trip-%s-%d", run, i+1),
			Traveller: "ada@example.com",
			Flight:    trip.Flight{From: "LIS", To: "BER", Date: time.Now().AddDate(0, 1, 0).Format(time.DateOnly)},
			Hotel:     trip.Hotel{City: "Berlin", Nights: 3},
			Car:       &trip.Car{City: "Berlin", Days: 3},
			CardToken: "tok_visa",
		}
		k.edit(&r)
		if _, err := c.Start(ctx, trip.TopicRequested, trip.TypeRequested, r.TripID, r); err != nil {
			return fmt.Errorf("requesting trip %s: %w", r.TripID, err)
		}
		pending[r.TripID] = k.name
		fmt.Fprintf(out, "requested %s (%s)\n", r.TripID, k.name)
	}

	// A consumer group of its own, read from the start: it sees every lifecycle event.
	rd := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: kcfg.Brokers, Dialer: kcfg.Dialer(), Topic: events.TopicOrdersEvents,
		GroupID: "trip-demo-" + run, StartOffset: kafkago.FirstOffset, MaxWait: 500 * time.Millisecond,
	})
	defer rd.Close()
	for len(pending) > 0 {
		m, err := rd.ReadMessage(ctx)
		if ctx.Err() != nil {
			return nil // interrupted: not an error of the demo
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", events.TopicOrdersEvents, err)
		}
		rec := events.Record{Topic: m.Topic, Value: m.Value}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, events.Header{Key: h.Key, Value: h.Value})
		}
		env, err := events.Decode(rec)
		if err != nil || env.Type != events.TypeSagaLifecycle {
			continue
		}
		var l events.SagaLifecycle
		if env.DecodeData(&l) != nil || l.Event == events.LifecycleMilestone {
			continue
		}
		kind, ok := pending[l.SagaID]
		if !ok {
			continue
		}
		delete(pending, l.SagaID)
		line := fmt.Sprintf("%s (%s): %s", l.SagaID, kind, l.Status)
		if l.Reason != "" {
			line += fmt.Sprintf(" (%s at %s)", l.Reason, l.Step)
		}
		fmt.Fprintln(out, line)
	}
	return nil
}
