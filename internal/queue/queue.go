package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Config tunes the engine. Zero values take the defaults in brackets.
type Config struct {
	// Workers is how many rows this process runs at once [16].
	Workers int
	// PollInterval is how often the producer looks for due rows without a wake-up [1s];
	// it bounds the latency a lost notification costs, never a row.
	PollInterval time.Duration
	// Lease is how long a claimed row stays this worker's without a heartbeat [30s]. The
	// heartbeat renews it every Lease/3; the rescuer looks for lapsed leases as often.
	Lease time.Duration
	// BackoffBase and BackoffMax: a retry waits BackoffBase·2^attempts, at most BackoffMax,
	// ±Jitter [1m, 24h, 0.1].
	BackoffBase time.Duration
	BackoffMax  time.Duration
	Jitter      float64
	// NotifyMode is "listen" (wake on NOTIFY, on a dedicated connection) or "poll" [listen].
	NotifyMode string
	// ListenURL is where the LISTEN connection connects: a direct path to PostgreSQL when
	// the pool goes through a transaction pooler ["": the pool's own settings].
	ListenURL string
	// WaitPoll is how often Wait re-reads a row another replica may finish [100ms].
	WaitPoll time.Duration
	// WorkerID names this process in locked_by and the attempt history [host-pid-random].
	WorkerID string
	// Now is the clock; nil means the database's now(). Tests inject one to move time.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the jitter [math/rand/v2].
	Rand   func() float64
	Logger *slog.Logger
	// Limiter is the rate limiter the claim consults, shared with the CRM client packages (see
	// NewLimiter) [one over the same pool, on the queue's clock].
	Limiter *Limiter
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Minute
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 24 * time.Hour
	}
	if c.Jitter < 0 || c.Jitter >= 1 {
		c.Jitter = 0
	} else if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.NotifyMode == "" {
		c.NotifyMode = "listen"
	}
	if c.WaitPoll <= 0 {
		c.WaitPoll = 100 * time.Millisecond
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.IntN(1<<16))
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Queue runs a Handler over the rows of crm_sync_queue. It wires the engine's parts and
// starts and stops them; each part does one job and can be run once by a test.
type Queue struct {
	pool  *pgxpool.Pool
	cfg   Config
	log   *slog.Logger
	clock engineClock

	limiter   *Limiter
	inflight  *inflight
	waiters   *waiters
	claimer   *claimer
	producer  *producer
	executor  *executor
	writer    *writer
	heartbeat *heartbeat
	rescuer   *rescuer
	pruner    *pruner
	listener  *listener
	metrics   *Metrics // nil until NewMetrics

	mu       sync.Mutex
	started  bool
	stopping bool

	loops    sync.WaitGroup // producer, listener, rescuer
	hbDone   sync.WaitGroup // the heartbeat, which outlives the loops until the last outcome is written
	handlers sync.WaitGroup // the worker goroutines
	cancel   context.CancelFunc
	cancelHB context.CancelFunc
}

// New makes an engine; Start runs its workers. RunDue, RunOne, Wait and the operations
// work without Start (a replica with WORKERS=0 still serves /api/cron/sync).
func New(pool *pgxpool.Pool, handler Handler, cfg Config) *Queue {
	cfg.defaults()
	log := cfg.Logger.With(slog.String("worker", cfg.WorkerID))
	clk := engineClock{now: cfg.Now}
	if cfg.Limiter == nil {
		cfg.Limiter = NewLimiter(pool, cfg.Now)
	}
	q := &Queue{pool: pool, cfg: cfg, log: log, clock: clk, limiter: cfg.Limiter,
		inflight: newInflight(), waiters: newWaiters()}
	q.claimer = &claimer{pool: pool, worker: cfg.WorkerID, lease: cfg.Lease, clock: clk, log: log,
		inflight: q.inflight, waiters: q.waiters}
	q.claimer.cursor.priority = math.MaxInt16 // the first walk starts at the best priority
	q.producer = newProducer(q.claimer, cfg.Workers, cfg.PollInterval, log)
	q.executor = &executor{handler: handler, cfg: cfg, clock: clk, log: log, limiter: q.limiter,
		inflight: q.inflight, waiters: q.waiters}
	q.writer = newWriter(pool, cfg.WorkerID, cfg.Lease, clk, log)
	q.heartbeat = &heartbeat{pool: pool, worker: cfg.WorkerID, lease: cfg.Lease, clock: clk, log: log, inflight: q.inflight}
	q.rescuer = &rescuer{pool: pool, every: cfg.Lease / 3, clock: clk, log: log}
	q.pruner = &pruner{pool: pool, clock: clk}
	q.listener = &listener{pool: pool, url: cfg.ListenURL, log: log, wake: q.producer.nudge}
	return q
}

// Limiter is the shared per-key rate limiter the CRM client packages take tokens from.
func (q *Queue) Limiter() *Limiter { return q.limiter }

// WorkerID is this engine's name in locked_by.
func (q *Queue) WorkerID() string { return q.cfg.WorkerID }

// Start runs the producer, the workers, the writer, the heartbeat, the rescuer and (in
// listen mode) the listener until Stop.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("queue already started")
	}
	q.started = true
	base := context.WithoutCancel(ctx)
	var hbCtx context.Context
	hbCtx, q.cancelHB = context.WithCancel(base)
	ctx, q.cancel = context.WithCancel(base)
	q.writer.start()
	q.hbDone.Add(1)
	go func() {
		defer q.hbDone.Done()
		q.heartbeat.run(hbCtx)
	}()
	for range q.cfg.Workers {
		q.handlers.Add(1)
		go func() {
			defer q.handlers.Done()
			for j := range q.producer.jobs {
				q.executor.execute(j, q.writer.submit, q.producer.handled)
			}
		}()
	}
	loops := []func(context.Context){q.producer.run, func(ctx context.Context) { q.rescuer.run(ctx, q.producer.nudge) }}
	if q.cfg.NotifyMode == "listen" {
		loops = append(loops, q.listener.run)
	}
	for _, loop := range loops {
		q.loops.Add(1)
		go func() {
			defer q.loops.Done()
			loop(ctx)
		}()
	}
	q.log.Info("queue started", slog.Int("workers", q.cfg.Workers), slog.String("notify_mode", q.cfg.NotifyMode),
		slog.Duration("lease", q.cfg.Lease))
	return nil
}

// Stop stops claiming, lets running rows finish until ctx ends, then releases the rest:
// they go back to pending with their lease cleared and their attempt given back.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	if !q.started || q.stopping {
		q.mu.Unlock()
		return nil
	}
	q.stopping = true
	q.mu.Unlock()

	q.cancel() // producer, listener and rescuer stop; the heartbeat goes on until the last outcome is written
	q.loops.Wait()
	// Rows claimed but not started go straight back, their attempt given back.
	q.releaseUnstarted()
	close(q.producer.jobs) // the producer has stopped: nothing else sends; workers exit when idle
	finished := make(chan struct{})
	go func() { q.handlers.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		n := q.inflight.cancelAll(errStopping)
		q.log.Warn("stop deadline reached: releasing running rows", slog.Int("rows", n))
		<-finished // handlers must honour ctx; a row's CRM deadline is shorter than its lease
	}
	q.writer.stop() // flushes every outcome still buffered
	q.cancelHB()
	q.hbDone.Wait()
	q.log.Info("queue stopped")
	return nil
}

// releaseUnstarted hands back the rows claimed but not yet picked up by a worker.
func (q *Queue) releaseUnstarted() {
	var released int
	for {
		select {
		case j := <-q.producer.jobs:
			now := q.clock.time()
			msg := "released: the worker stopped before the attempt started"
			q.writer.submit(outcome{id: j.ID, attempt: j.Attempt, status: StatusPending, kind: "released",
				err: &msg, started: now, finished: now}, func(err error) {
				if err != nil {
					q.log.Error("release failed; the lease will lapse instead", slog.Int64("id", j.ID), slog.String("error", err.Error()))
				}
				q.inflight.release(j.ID)
				q.waiters.signal(j.ID)
			})
			q.producer.claimed.Add(-1)
			released++
		default:
			if released > 0 {
				q.log.Info("released unstarted rows", slog.Int("rows", released))
			}
			return
		}
	}
}
