package main

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"
)

var allWorkloads = []string{WorkCallbacks, WorkTimers, WorkPosts1, WorkPosts4, WorkTimeouts, WorkMixed}

// supportedWorkloads is what each floor and baseline does; every other
// workload must return ErrUnsupported.
var supportedWorkloads = map[string][]string{
	"floor-ring":  {WorkCallbacks},
	"floor-wheel": {WorkTimers, WorkTimeouts},
	"floor-sleep": {WorkTimers},
	"chan":        {WorkCallbacks, WorkPosts1, WorkPosts4},
	"mutex":       {WorkCallbacks, WorkPosts1, WorkPosts4},
	"afterfunc":   {WorkTimers, WorkTimeouts},
	"heap":        {WorkCallbacks, WorkTimers, WorkTimeouts},
}

func floorsAndBaselines() []System {
	return append(floorSystems(), baselineSystems()...)
}

// expectedOps is the operation count of workload w at scale n.
func expectedOps(w string, n int) int {
	if w == WorkPosts4 {
		return 4 * n
	}
	return n
}

func TestFloorsAndBaselines(t *testing.T) {
	const n = 1000
	seen := map[string]bool{}
	for _, s := range floorsAndBaselines() {
		if seen[s.Name] {
			t.Errorf("system %q listed twice", s.Name)
		}
		seen[s.Name] = true
		supported, ok := supportedWorkloads[s.Name]
		if !ok {
			t.Errorf("system %q: not in supportedWorkloads", s.Name)
			continue
		}
		if s.Note == "" || s.Run == nil || (s.Kind != "floor" && s.Kind != "baseline" && s.Kind != "diagnostic") {
			t.Errorf("system %q: kind %q, note %q, run set %v", s.Name, s.Kind, s.Note, s.Run != nil)
			continue
		}
		for _, w := range allWorkloads {
			t.Run(s.Name+"/"+w, func(t *testing.T) {
				r, err := s.Run(w, n)
				if !slices.Contains(supported, w) {
					if !errors.Is(err, ErrUnsupported) {
						t.Fatalf("got %v, want ErrUnsupported", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if want := expectedOps(w, n); r.Ops != want {
					t.Errorf("ops %d, want %d", r.Ops, want)
				}
				if r.Wall <= 0 || r.CPU < 0 || r.Setup < 0 {
					t.Errorf("wall %v, cpu %v, setup %v", r.Wall, r.CPU, r.Setup)
				}
				if r.Wall > 10*time.Second {
					t.Errorf("wall %v for %d ops", r.Wall, r.Ops)
				}
				// Real timers wait for their deadlines, up to 9 ms; the floor's
				// clock is virtual.
				if w == WorkTimers && (s.Kind == "baseline" || s.Name == "floor-sleep") && r.Wall < 9*time.Millisecond {
					t.Errorf("wall %v: timers fired before their 9 ms deadline", r.Wall)
				}
			})
		}
	}
	for name := range supportedWorkloads {
		if !seen[name] {
			t.Errorf("supportedWorkloads names %q, which no system has", name)
		}
	}
}

func TestScaleMustBePositive(t *testing.T) {
	for _, s := range floorsAndBaselines() {
		for _, w := range supportedWorkloads[s.Name] {
			if _, err := s.Run(w, 0); err == nil || errors.Is(err, ErrUnsupported) {
				t.Errorf("%s/%s at n=0: got %v, want a scale error", s.Name, w, err)
			}
		}
	}
}

// TestFloorWheelFiresOnTime checks the floor wheel against its definition:
// each timer fires at exactly its tick, across every level and cascade the
// timeouts workload reaches, and cancelled timers never fire.
func TestFloorWheelFiresOnTime(t *testing.T) {
	w := newFloorWheel(0)
	const n = 5000
	firedAt := make([]int64, n)
	want := make([]int64, n)
	handles := make([]int32, n)
	last := uint64(0)
	for i := range n {
		delay := uint64(i*7919) % 70_000 // up to 70 s in ticks: levels 0 to 2
		if i%7 == 0 {
			delay = uint64(i % 130) // many near ones: level 0 and 1
		}
		firedAt[i], want[i] = -1, int64(delay)
		handles[i] = w.schedule(delay, func() { firedAt[i] = int64(w.cur) })
		last = max(last, delay)
	}
	for i := range n {
		if i%3 == 0 {
			w.cancel(handles[i])
			want[i] = -1
		}
	}
	for w.cur <= last {
		w.step()
	}
	for i := range n {
		if firedAt[i] != want[i] {
			t.Fatalf("timer %d: fired at tick %d, want %d (-1: never)", i, firedAt[i], want[i])
		}
	}
	// Every entry is free again: reuse takes them all before growing.
	for range len(w.slab) {
		w.schedule(1, func() {})
	}
	if w.free != -1 || len(w.slab) != n {
		t.Errorf("slab of %d after reuse, free head %d: entries leaked", len(w.slab), w.free)
	}
}

func TestHeapLoopOrderAndCancel(t *testing.T) {
	l := newHeapLoop()
	defer l.sleep.Stop()
	var got []int
	l.updateTime()
	var handles []*heapTimer
	for i := range 20 {
		handles = append(handles, l.callLater(time.Duration(3-i%4)*time.Millisecond, func() { got = append(got, i) }))
	}
	l.callSoon(func() { got = append(got, -1) })
	for _, i := range []int{1, 6, 19} {
		l.cancel(handles[i])
	}
	for len(l.timers) > 0 || len(l.ready) > 0 {
		l.runOnce(true)
	}
	// The callback first, then by deadline (3 - i%4 ms), then in scheduling order.
	want := []int{-1, 3, 7, 11, 15, 2, 10, 14, 18, 5, 9, 13, 17, 0, 4, 8, 12, 16}
	if !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	if l.cancelled != 0 {
		t.Errorf("%d cancelled timers counted after all left the heap", l.cancelled)
	}
}

// TestFloorsAndBaselinesNsPerOp prints ns per op (and CPU ns per op) for the
// figures the bench issue asks about. It is slow, so it runs only when asked:
//
//	LOOP_BENCH_BASELINES=1 go test -run NsPerOp -v ./bench
func TestFloorsAndBaselinesNsPerOp(t *testing.T) {
	if os.Getenv("LOOP_BENCH_BASELINES") == "" {
		t.Skip("set LOOP_BENCH_BASELINES=1 to measure")
	}
	const reps = 5
	for _, n := range []int{10_000, 100_000} {
		for _, s := range floorsAndBaselines() {
			for _, w := range supportedWorkloads[s.Name] {
				if _, err := s.Run(w, n); err != nil { // warm-up
					t.Fatal(err)
				}
				var wall, cpu []float64
				var allocs float64
				for range reps {
					r, err := s.Run(w, n)
					if err != nil {
						t.Fatal(err)
					}
					wall = append(wall, float64(r.Wall.Nanoseconds())/float64(r.Ops))
					cpu = append(cpu, float64(r.CPU.Nanoseconds())/float64(r.Ops))
					allocs = float64(r.Allocs) / float64(r.Ops)
				}
				slices.Sort(wall)
				slices.Sort(cpu)
				t.Logf("n=%-7d %-11s %-9s wall %8.1f ns/op (min %8.1f max %8.1f)  cpu %8.1f ns/op  allocs/op %.2f",
					n, s.Name, w, wall[reps/2], wall[0], wall[reps-1], cpu[reps/2], allocs)
			}
		}
	}
}
