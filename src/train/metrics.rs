//! `metrics.jsonl`: one JSON object per line, appended and flushed as training goes, so a
//! person (or a plotting script) can follow a run while it trains.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

pub struct MetricsLog {
    out: BufWriter<File>,
}

impl MetricsLog {
    pub fn create(path: &Path) -> anyhow::Result<MetricsLog> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        Ok(MetricsLog {
            out: BufWriter::new(f),
        })
    }

    pub fn write(&mut self, record: &serde_json::Value) -> anyhow::Result<()> {
        writeln!(self.out, "{record}")?;
        self.out.flush()?;
        Ok(())
    }
}
