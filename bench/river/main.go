// Command river measures River's no-op drain rate on the same machine and database server
// as `tiersync bench queue`, for comparison (`make bench`). It lives in a module of its own:
// River is not a dependency of tiersync.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

func main() {
	jobs := flag.Int("jobs", 50000, "jobs to drain")
	workers := flag.Int("workers", 16, "workers")
	flag.Parse()
	if err := run(*jobs, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench river:", err)
		os.Exit(1)
	}
}

func run(n, workers int) error {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, &noopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers: ws,
		// River fetches at most MaxWorkers jobs per fetch and waits FetchCooldown (100 ms by
		// default) between fetches: 160 jobs/s with 16 workers. Its own benchmarks lower it;
		// so does this one, to compare engines rather than defaults.
		FetchCooldown: time.Millisecond,
	})
	if err != nil {
		return err
	}
	for done := 0; done < n; done += 10000 {
		params := make([]river.InsertManyParams, min(10000, n-done))
		for i := range params {
			params[i] = river.InsertManyParams{Args: noopArgs{}}
		}
		if _, err := client.InsertMany(ctx, params); err != nil {
			return err
		}
	}
	events, cancel := client.Subscribe(river.EventKindJobCompleted)
	defer cancel()
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return err
	}
	for seen := 0; seen < n; {
		<-events
		seen++
	}
	elapsed := time.Since(start).Seconds()
	if err := client.Stop(ctx); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"bench": "river", "jobs": n, "workers": workers,
		"seconds": float64(int64(elapsed*1000+0.5)) / 1000, "jobs_per_sec": float64(int64(float64(n)/elapsed*1000+0.5)) / 1000})
}
