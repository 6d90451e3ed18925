package main

import (
	"fmt"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plots writes one SVG per workload: ops/s against N (log x), a line per
// system; for a workload compared on CPU time (timers, mixed), ops per CPU
// second, as its speedups and goals have it: their wall time is mostly the
// wait for the last deadline, which every system shares.
func (r *report) plots(dir string) error {
	for _, p := range plans {
		names := r.names(p.workload)
		if len(names) == 0 {
			continue
		}
		pl := plot.New()
		pl.Title.Text = p.title
		pl.X.Label.Text = "N"
		pl.Y.Label.Text = p.perOp + "s per second"
		if p.cpuBound {
			pl.Y.Label.Text = p.perOp + "s per CPU second"
		}
		pl.X.Scale = plot.LogScale{}
		pl.X.Tick.Marker = plot.LogTicks{Prec: -1}
		pl.Y.Scale = plot.LogScale{}
		pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		pl.Legend.Top = true
		var lines []any
		for _, name := range names {
			var pts plotter.XYs
			for _, st := range r.stats[p.workload][name] {
				pts = append(pts, plotter.XY{X: float64(st.n), Y: st.rate(p.cpuBound)})
			}
			lines = append(lines, name, pts)
		}
		if err := plotutil.AddLinePoints(pl, lines...); err != nil {
			return fmt.Errorf("plot %s: %w", p.workload, err)
		}
		// Headroom above the data for the legend, which sits top right: on
		// the log axis, the data keeps the lower ~55% of the height.
		if pl.Y.Min > 0 && pl.Y.Max > pl.Y.Min {
			pl.Y.Max = pl.Y.Min * math.Pow(pl.Y.Max/pl.Y.Min, 1/0.55)
		}
		if err := pl.Save(7*vg.Inch, 6*vg.Inch, filepath.Join(dir, p.workload+".svg")); err != nil {
			return fmt.Errorf("plot %s: %w", p.workload, err)
		}
	}
	if r.echo != nil {
		return r.echo.plot(dir)
	}
	return nil
}
