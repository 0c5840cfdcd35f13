//! Reads a recording back, a frame at a time (memory stays bounded by one frame).

use std::io::{self, Read};

use super::{
    wire, Footer, Header, TraceError, FOOTER_TAG, FRAME_TAG, MAGIC, MAX_FRAME, MAX_HEADER, VERSION,
};
use crate::events::Record;

pub struct Reader<R: Read> {
    input: R,
    pub header: Header,
    pub footer: Option<Footer>,
    /// Set when the file ends without a footer: cut short (a crash, a full disk).
    pub truncated: Option<String>,
    dec: wire::Decoder,
    offset: u64,
    frames: u64,
    pub records: u64,
    done: bool,
}

/// Reads exactly `buf.len()` bytes: Ok(None), or Ok(Some(n)) when the file ended after n bytes.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Ok(Some(got)),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn io_err(e: io::Error) -> TraceError {
    TraceError::Io(e.to_string())
}

impl<R: Read> Reader<R> {
    pub fn new(mut input: R) -> Result<Self, TraceError> {
        let mut fixed = [0u8; 14];
        match read_full(&mut input, &mut fixed).map_err(io_err)? {
            Some(0) => return Err(TraceError::Empty),
            Some(n) if n < MAGIC.len() || &fixed[..MAGIC.len()] != MAGIC => {
                return Err(TraceError::Magic)
            }
            Some(_) => return Err(TraceError::Header("file ends inside the header".into())),
            None => {}
        }
        if &fixed[..8] != MAGIC {
            return Err(TraceError::Magic);
        }
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if version > VERSION {
            return Err(TraceError::NewerVersion(version));
        }
        if version == 0 {
            return Err(TraceError::Header("format version 0".into()));
        }
        let len = u32::from_le_bytes(fixed[10..14].try_into().unwrap());
        if len > MAX_HEADER {
            return Err(TraceError::Header(format!(
                "header length {len} is implausible"
            )));
        }
        let mut h = vec![0u8; len as usize];
        if read_full(&mut input, &mut h).map_err(io_err)?.is_some() {
            return Err(TraceError::Header("file ends inside the header".into()));
        }
        let header: Header =
            serde_json::from_slice(&h).map_err(|e| TraceError::Header(e.to_string()))?;
        Ok(Reader {
            input,
            header,
            footer: None,
            truncated: None,
            dec: wire::Decoder::default(),
            offset: 14 + u64::from(len),
            frames: 0,
            records: 0,
            done: false,
        })
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn cut(&mut self, what: &str) {
        self.truncated = Some(format!(
            "the file ends inside {what} at byte {} (cut short by a crash?): read {} records from {} whole frames",
            self.offset, self.records, self.frames
        ));
        self.done = true;
    }

    /// The next frame's records appended to `out`; Ok(false) at the end of the recording.
    pub fn next_frame(&mut self, out: &mut Vec<Record>) -> Result<bool, TraceError> {
        if self.done {
            return Ok(false);
        }
        let mut tag = [0u8; 1];
        if read_full(&mut self.input, &mut tag)
            .map_err(io_err)?
            .is_some()
        {
            self.truncated = Some(format!(
                "no footer after byte {} (cut short by a crash?): read {} records from {} whole frames",
                self.offset, self.records, self.frames
            ));
            self.done = true;
            return Ok(false);
        }
        let frame_err = |s: &Self, cause: String| TraceError::Frame {
            frame: s.frames,
            offset: s.offset,
            cause,
        };
        match tag[0] {
            FRAME_TAG => {
                let mut lens = [0u8; 12];
                if read_full(&mut self.input, &mut lens)
                    .map_err(io_err)?
                    .is_some()
                {
                    self.cut("a frame header");
                    return Ok(false);
                }
                let raw_len = u32::from_le_bytes(lens[0..4].try_into().unwrap());
                let comp_len = u32::from_le_bytes(lens[4..8].try_into().unwrap());
                let count = u32::from_le_bytes(lens[8..12].try_into().unwrap());
                if raw_len > MAX_FRAME || comp_len > MAX_FRAME {
                    return Err(frame_err(
                        self,
                        format!("implausible frame lengths {raw_len}/{comp_len}"),
                    ));
                }
                let mut comp = vec![0u8; comp_len as usize];
                if read_full(&mut self.input, &mut comp)
                    .map_err(io_err)?
                    .is_some()
                {
                    self.cut("a frame");
                    return Ok(false);
                }
                let raw = zstd::bulk::decompress(&comp, raw_len as usize)
                    .map_err(|e| frame_err(self, format!("decompression failed: {e}")))?;
                if raw.len() != raw_len as usize {
                    return Err(frame_err(
                        self,
                        format!("{} bytes where the frame says {raw_len}", raw.len()),
                    ));
                }
                let items: Vec<wire::Item> = postcard::from_bytes(&raw)
                    .map_err(|e| frame_err(self, format!("undecodable records: {e}")))?;
                self.dec.reset();
                let before = out.len();
                for item in items {
                    if let Some(r) = self.dec.decode(item).map_err(|e| frame_err(self, e))? {
                        out.push(r);
                    }
                }
                let got = (out.len() - before) as u64;
                if got != u64::from(count) {
                    return Err(frame_err(
                        self,
                        format!("{got} records where the frame says {count}"),
                    ));
                }
                self.records += got;
                self.frames += 1;
                self.offset += 13 + u64::from(comp_len);
                Ok(true)
            }
            FOOTER_TAG => {
                let mut len = [0u8; 4];
                if read_full(&mut self.input, &mut len)
                    .map_err(io_err)?
                    .is_some()
                {
                    self.cut("the footer");
                    return Ok(false);
                }
                let len = u32::from_le_bytes(len);
                if len > MAX_HEADER {
                    return Err(TraceError::Footer(format!("length {len} is implausible")));
                }
                let mut f = vec![0u8; len as usize];
                if read_full(&mut self.input, &mut f)
                    .map_err(io_err)?
                    .is_some()
                {
                    self.cut("the footer");
                    return Ok(false);
                }
                let footer: Footer =
                    serde_json::from_slice(&f).map_err(|e| TraceError::Footer(e.to_string()))?;
                if footer.records != self.records || footer.frames != self.frames {
                    return Err(TraceError::Footer(format!(
                        "it counts {} records in {} frames, the file holds {} in {}",
                        footer.records, footer.frames, self.records, self.frames
                    )));
                }
                self.offset += 5 + u64::from(len);
                self.footer = Some(footer);
                let mut extra = [0u8; 1];
                if read_full(&mut self.input, &mut extra)
                    .map_err(io_err)?
                    .is_none()
                {
                    return Err(TraceError::Footer(format!(
                        "data after the footer at byte {}",
                        self.offset
                    )));
                }
                self.done = true;
                Ok(false)
            }
            other => Err(frame_err(self, format!("unknown block tag {other:#04x}"))),
        }
    }
}
