use super::{reader::Reader, writer::Writer, *};
use crate::events::Record;

fn synthetic(n: usize) -> Vec<Record> {
    super::synthetic::Realistic::new().take(n).collect()
}

fn header() -> Header {
    Header {
        rtnlprof_version: "0.1.0".into(),
        kernel: "6.12.0-test".into(),
        clock: "CLOCK_MONOTONIC".into(),
        start_mono_ns: 999_000_000,
        capture_mode: crate::run::CaptureMode::Full,
        ..Header::default()
    }
}

fn write(records: &[Record], footer: bool, frame_every: usize) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), &header()).unwrap();
    for (i, r) in records.iter().enumerate() {
        w.push(r).unwrap();
        if (i + 1) % frame_every == 0 {
            w.flush().unwrap();
        }
    }
    if footer {
        w.finish(Footer {
            end_mono_ns: 5,
            ..Footer::default()
        })
        .unwrap()
    } else {
        w.into_inner_unfinished().unwrap()
    }
}

fn read_all(bytes: &[u8]) -> Result<(Vec<Record>, Reader<&[u8]>), TraceError> {
    let mut r = Reader::new(bytes)?;
    let mut out = Vec::new();
    while r.next_frame(&mut out)? {}
    Ok((out, r))
}

#[test]
fn records_round_trip_exactly() {
    let recs = synthetic(10_000);
    let bytes = write(&recs, true, 3000);
    let (back, r) = read_all(&bytes).unwrap();
    assert_eq!(back, recs);
    assert_eq!(r.header, header());
    let f = r.footer.unwrap();
    assert_eq!((f.records, f.frames), (10_000, 4));
    assert!(r.truncated.is_none());
}

#[test]
fn a_file_cut_short_reads_to_its_last_whole_frame() {
    let recs = synthetic(1000);
    let bytes = write(&recs, false, 300);
    // Cut inside the last frame.
    let cut = &bytes[..bytes.len() - 10];
    let (back, r) = read_all(cut).unwrap();
    assert_eq!(back, recs[..900]);
    assert!(r.truncated.unwrap().contains("cut short"));
    // Cut exactly after a frame: no footer.
    let (back, r) = read_all(&bytes).unwrap();
    assert_eq!(back.len(), 1000);
    assert!(r.truncated.unwrap().contains("no footer"));
}

#[test]
fn bad_files_are_named_errors() {
    let good = write(&synthetic(100), true, 1000);
    assert_eq!(Reader::new(&b""[..]).err(), Some(TraceError::Empty));
    assert_eq!(
        Reader::new(&b"GIF89a........."[..]).err(),
        Some(TraceError::Magic)
    );
    let mut newer = good.clone();
    newer[8] = 9;
    assert_eq!(
        Reader::new(&newer[..]).err(),
        Some(TraceError::NewerVersion(9))
    );
    // Flip a byte inside the compressed frame: zstd's checksum or the decoder notices.
    let mut corrupt = good.clone();
    let frame_start = 14 + u32::from_le_bytes(good[10..14].try_into().unwrap()) as usize;
    corrupt[frame_start + 20] ^= 0x55;
    match read_all(&corrupt) {
        Err(TraceError::Frame { frame: 0, .. }) => {}
        other => panic!("corrupt frame accepted: {:?}", other.map(|(r, _)| r.len())),
    }
    // A footer that disagrees with the frames.
    let mut lying = write(&synthetic(100), false, 1000);
    let f = serde_json::to_vec(&Footer {
        records: 5,
        frames: 1,
        ..Footer::default()
    })
    .unwrap();
    lying.push(FOOTER_TAG);
    lying.extend_from_slice(&(f.len() as u32).to_le_bytes());
    lying.extend_from_slice(&f);
    assert!(matches!(read_all(&lying), Err(TraceError::Footer(_))));
}

#[test]
fn realistic_records_take_few_bytes() {
    let recs = synthetic(100_000);
    let bytes = write(&recs, true, usize::MAX);
    let per = bytes.len() as f64 / recs.len() as f64;
    assert!(per < 8.0, "{per:.2} bytes per event");
}
