package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/queue"
)

// A replica process of `bench queue --replicas N` speaks a small protocol on its standard
// streams: it prints "ready" once its engine is built, starts it on a line "go", stops at
// the end of its input and prints {"handled": N} (the rows its handler ran).

// QueueReplica is one replica process of the bench: an engine with workers workers and a
// no-op handler on pool, woken by LISTEN through listenURL ("": the pool's own settings).
func QueueReplica(ctx context.Context, pool *pgxpool.Pool, workers int, listenURL string, in io.Reader, out io.Writer) error {
	var handled atomic.Int64
	q := queue.New(pool, func(context.Context, queue.Job) error {
		handled.Add(1)
		return nil
	}, queue.Config{Workers: workers, PollInterval: 100 * time.Millisecond, ListenURL: listenURL})
	fmt.Fprintln(out, "ready")
	lines := bufio.NewScanner(in)
	if !lines.Scan() || lines.Text() != "go" {
		return errors.New("bench replica: no go")
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	for lines.Scan() { //nolint:revive // anything more is ignored: the end of input stops the replica
	}
	if err := q.Stop(ctx); err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(map[string]int64{"handled": handled.Load()})
}

// QueueReplicas is Queue with the engine in replicas processes, each made by start (a
// command running QueueReplica on the same database), each with its own pool and workers.
// The drain is timed from the "go" to the moment no row is pending or processing; every
// row must have been handled once across the processes. pooler names what the replicas
// connect through, for the result ("": directly).
func QueueReplicas(ctx context.Context, pool *pgxpool.Pool, jobs, clients, workers, retained, replicas int, pooler string,
	start func() *exec.Cmd) (QueueResult, error) {
	if clients < 1 || clients > jobs || retained < 0 || replicas < 1 {
		return QueueResult{}, fmt.Errorf("bench queue: %d clients for %d jobs, %d retained, %d replicas: want 1 to jobs clients, retained ≥ 0, replicas ≥ 1",
			clients, jobs, retained, replicas)
	}
	if err := seedQueue(ctx, pool, jobs, clients, retained); err != nil {
		return QueueResult{}, err
	}
	type proc struct {
		cmd   *exec.Cmd
		in    io.WriteCloser
		lines *bufio.Scanner
	}
	procs := make([]proc, replicas)
	defer func() {
		for _, p := range procs {
			if p.cmd != nil && p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
	}()
	for i := range procs {
		cmd := start()
		in, err := cmd.StdinPipe()
		if err != nil {
			return QueueResult{}, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return QueueResult{}, err
		}
		if err := cmd.Start(); err != nil {
			return QueueResult{}, fmt.Errorf("bench queue: start replica: %w", err)
		}
		procs[i] = proc{cmd: cmd, in: in, lines: bufio.NewScanner(out)}
		if !procs[i].lines.Scan() || procs[i].lines.Text() != "ready" {
			return QueueResult{}, fmt.Errorf("bench queue: replica %d did not start: %q", i, procs[i].lines.Text())
		}
	}
	begin := time.Now()
	for _, p := range procs {
		if _, err := io.WriteString(p.in, "go\n"); err != nil {
			return QueueResult{}, err
		}
	}
	for {
		var open bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM crm_sync_queue WHERE status IN ('pending', 'processing'))`).Scan(&open); err != nil {
			return QueueResult{}, fmt.Errorf("bench queue: %w", err)
		}
		if !open {
			break
		}
		select {
		case <-ctx.Done():
			return QueueResult{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	elapsed := time.Since(begin).Seconds()
	var handled int64
	for i, p := range procs {
		p.in.Close()
		var res struct{ Handled int64 }
		if !p.lines.Scan() || json.Unmarshal(p.lines.Bytes(), &res) != nil {
			return QueueResult{}, fmt.Errorf("bench queue: replica %d's result: %q", i, strings.TrimSpace(p.lines.Text()))
		}
		if err := p.cmd.Wait(); err != nil {
			return QueueResult{}, fmt.Errorf("bench queue: replica %d: %w", i, err)
		}
		handled += res.Handled
	}
	if err := allCompleted(ctx, pool, jobs, retained); err != nil {
		return QueueResult{}, err
	}
	if handled != int64(jobs) {
		return QueueResult{}, fmt.Errorf("bench queue: the replicas handled %d rows for %d jobs", handled, jobs)
	}
	q := queue.New(pool, func(context.Context, queue.Job) error { return nil }, queue.Config{Workers: 1})
	idle, err := idleClaim(ctx, q, clients)
	if err != nil {
		return QueueResult{}, err
	}
	return QueueResult{Bench: "queue", Jobs: jobs, Clients: clients, Workers: workers, Retained: retained, Replicas: replicas,
		Pooler: pooler, Seconds: round(elapsed), JobsPerSec: round(float64(jobs) / elapsed), IdleClaimMs: round(idle)}, nil
}
