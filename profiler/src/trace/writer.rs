//! Streams records into a recording file, a compressed frame at a time.

use std::io::{self, Write};

use super::{wire, Footer, Header, FOOTER_TAG, FRAME_TAG, MAGIC, VERSION};
use crate::events::Record;

/// Records per frame at most (a frame is also cut whenever the caller calls `flush`).
pub const FRAME_RECORDS: usize = 1 << 16;
const ZSTD_LEVEL: i32 = 3;

pub struct Writer<W: Write> {
    out: W,
    enc: wire::Encoder,
    items: Vec<wire::Item>,
    pending: usize,
    pub records: u64,
    pub frames: u64,
    pub bytes: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W, header: &Header) -> io::Result<Self> {
        let h = serde_json::to_vec(header).map_err(io::Error::other)?;
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        out.write_all(&(h.len() as u32).to_le_bytes())?;
        out.write_all(&h)?;
        out.flush()?;
        Ok(Writer {
            out,
            enc: wire::Encoder::default(),
            items: Vec::new(),
            pending: 0,
            records: 0,
            frames: 0,
            bytes: (MAGIC.len() + 6 + h.len()) as u64,
        })
    }

    pub fn push(&mut self, r: &Record) -> io::Result<()> {
        self.enc.encode(r, &mut self.items);
        self.pending += 1;
        self.records += 1;
        if self.pending >= FRAME_RECORDS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what is buffered as one frame and flushes the file.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        let raw = postcard::to_allocvec(&self.items).map_err(io::Error::other)?;
        let mut enc = zstd::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
        enc.include_checksum(true)?;
        enc.write_all(&raw)?;
        let comp = enc.finish()?;
        self.out.write_all(&[FRAME_TAG])?;
        self.out.write_all(&(raw.len() as u32).to_le_bytes())?;
        self.out.write_all(&(comp.len() as u32).to_le_bytes())?;
        self.out.write_all(&(self.pending as u32).to_le_bytes())?;
        self.out.write_all(&comp)?;
        self.out.flush()?;
        self.bytes += 13 + comp.len() as u64;
        self.frames += 1;
        self.items.clear();
        self.pending = 0;
        self.enc.reset();
        Ok(())
    }

    /// Flushes and hands back the output without a footer (what a crash leaves).
    pub fn into_inner_unfinished(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }

    /// Flushes the last frame and writes the footer.
    pub fn finish(mut self, mut footer: Footer) -> io::Result<W> {
        self.flush()?;
        footer.records = self.records;
        footer.frames = self.frames;
        let f = serde_json::to_vec(&footer).map_err(io::Error::other)?;
        self.out.write_all(&[FOOTER_TAG])?;
        self.out.write_all(&(f.len() as u32).to_le_bytes())?;
        self.out.write_all(&f)?;
        self.out.flush()?;
        self.bytes += 5 + f.len() as u64;
        Ok(self.out)
    }
}
