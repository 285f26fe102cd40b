//! Reading one source into CloudTrail records: gzip or not (sniffed from the magic bytes, not the
//! name), then one of three layouts (sniffed from the first bytes):
//!
//! * a CloudTrail log file, `{"Records":[...]}` (positions are record numbers, 1-based);
//! * a JSON array of records (same);
//! * JSON lines, one record per line (positions are line numbers); a line may also hold a whole
//!   `{"Records":[...]}` document.
//!
//! Whole documents are read into memory (CloudTrail objects are small); JSON lines stream, so
//! memory does not grow with the input. Bad input never panics: it becomes [`Item::Bad`] (one
//! record) or [`ReadEnd::problem`] (the rest of the source is unreadable).
use std::io::{self, BufRead, BufReader, Read};

use vedette_domain::cloudtrail::{CloudTrailRecord, parse_record};
use vedette_domain::dns::record::query_json;
use vedette_domain::dns::{QueryLogRecord, parse_query_record};
use vedette_domain::flow::{FlowLayout, FlowLine, FlowReader, FlowRecord, ReadLine};

/// One position of a source, handed to the sink.
pub(crate) enum Item<'r, 'a> {
    Record(&'r CloudTrailRecord<'a>),
    /// A VPC flow-log record (a line of a flow-log file).
    Flow(&'r FlowRecord<'a>),
    /// A Route 53 Resolver query-log record (a line of a query-log file).
    Query(&'r QueryLogRecord<'a>),
    /// Not a record: what is wrong with it.
    Bad(String),
}

/// How reading a source ended.
#[derive(Debug, Default)]
pub struct ReadEnd {
    /// The last position consumed (the next run resumes after it).
    pub position: u64,
    /// The source could not be read past `position`: why. The source is finished anyway.
    pub problem: Option<String>,
    /// The sink asked to stop (cancellation): the source is not finished.
    pub stopped: bool,
    /// The source is JSON lines (it may grow by appending).
    pub json_lines: bool,
    /// The input ends inside a record (gzip stream cut short, JSON document or last line
    /// unfinished): a file still being written looks like this. `problem` says so.
    pub truncated: bool,
    /// No content at all (nothing but whitespace).
    pub empty: bool,
}

/// What the sink tells the reader after each item. `Stop` leaves the item unprocessed: the sink
/// returns it only for the first item of a position, so a stopped read ends at the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Buffers reused from one source to the next (one set per worker).
#[derive(Default)]
pub(crate) struct Buffers {
    document: Vec<u8>,
    line: Vec<u8>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A source's raw bytes as a buffered reader of its content: decompressed when they are gzip
/// (told by the magic bytes, not the name).
pub(crate) fn decompressed<'a>(raw: Box<dyn Read + 'a>) -> io::Result<Box<dyn BufRead + 'a>> {
    let mut raw = BufReader::with_capacity(256 * 1024, raw);
    if raw.fill_buf()?.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::with_capacity(256 * 1024, flate2::bufread::MultiGzDecoder::new(raw))))
    } else {
        Ok(Box::new(raw))
    }
}

/// Reads records from `reader`, skipping positions up to `start`, calling `sink` for each later
/// position. The sink's error aborts reading and is returned.
pub(crate) fn read_records<E>(
    reader: Box<dyn BufRead + '_>,
    start: u64,
    bufs: &mut Buffers,
    flow_format: Option<&FlowLayout>,
    mut sink: impl FnMut(u64, Item<'_, '_>) -> Result<Flow, E>,
) -> Result<ReadEnd, E> {
    // Skip a UTF-8 byte-order mark and leading whitespace, then look at the first bytes.
    let (first, rest) = match read_head(reader) {
        Ok(Some(head)) => head,
        Ok(None) => return Ok(ReadEnd { position: start, empty: true, ..Default::default() }),
        Err(e) => {
            let problem = Some(read_error_message(&e));
            return Ok(ReadEnd { position: start, problem, truncated: is_truncation(&e), ..Default::default() });
        }
    };
    let reader: Box<dyn BufRead + '_> = Box::new(io::Cursor::new(first.clone()).chain(rest));
    let first_line = first.split(|b| *b == b'\n').next().unwrap_or_default();
    match first[0] {
        b'[' => read_document(reader, start, bufs, &mut sink),
        b'{' if starts_with_records_key(&first) => read_document(reader, start, bufs, &mut sink),
        b'{' if is_query_log_line(first_line) => read_text_lines(reader, start, bufs, LineKind::Query, &mut sink),
        b'{' => read_lines(reader, start, bufs, &mut sink),
        // A CloudWatch Logs export of query logs: `<timestamp> {...}` lines.
        _ if is_query_log_line(first_line) => read_text_lines(reader, start, bufs, LineKind::Query, &mut sink),
        _ if is_flow_log_line(first_line, flow_format) => {
            let flow = flow_format.map_or_else(FlowReader::default, |layout| FlowReader::with_layout(layout.clone()));
            read_text_lines(reader, start, bufs, LineKind::Flow(flow), &mut sink)
        }
        _ => Ok(ReadEnd { position: start, problem: Some("not CloudTrail: the input is not JSON".into()), ..Default::default() }),
    }
}

/// For the fuzz targets and their replay tests (crates/fuzzing), not an API: reads `bytes` as a
/// source is read (gzip and layout sniffed) after position `start`, handing each position's
/// record, or why it is not one, to `each`; `each` returning false stops there, as the ingester's
/// cancellation does (only ever at the first item of a position).
#[doc(hidden)]
pub fn read_bytes_for_fuzzing(bytes: &[u8], start: u64, mut each: impl FnMut(u64, Result<&CloudTrailRecord<'_>, &str>) -> bool) -> ReadEnd {
    read_items_for_fuzzing(bytes, start, |position, item| match item {
        FuzzItem::CloudTrail(record) => each(position, Ok(record)),
        FuzzItem::Bad(why) => each(position, Err(why)),
        // Not CloudTrail: the CloudTrail target looks at CloudTrail only.
        FuzzItem::Flow(_) | FuzzItem::Query(_) => each(position, Err("not CloudTrail")),
    })
}

/// What [`read_items_for_fuzzing`] hands over at a position.
#[doc(hidden)]
pub enum FuzzItem<'r, 'a> {
    CloudTrail(&'r CloudTrailRecord<'a>),
    Flow(&'r FlowRecord<'a>),
    Query(&'r QueryLogRecord<'a>),
    Bad(&'r str),
}

/// [`read_bytes_for_fuzzing`] for every layout (the flow-log and query-log targets).
#[doc(hidden)]
pub fn read_items_for_fuzzing(bytes: &[u8], start: u64, mut each: impl FnMut(u64, FuzzItem<'_, '_>) -> bool) -> ReadEnd {
    let reader = match decompressed(Box::new(bytes)) {
        Ok(reader) => reader,
        Err(e) => return ReadEnd { position: start, problem: Some(read_error_message(&e)), ..Default::default() },
    };
    let read = read_records::<std::convert::Infallible>(reader, start, &mut Buffers::default(), None, |position, item| {
        let go_on = match item {
            Item::Record(record) => each(position, FuzzItem::CloudTrail(record)),
            Item::Flow(record) => each(position, FuzzItem::Flow(record)),
            Item::Query(record) => each(position, FuzzItem::Query(record)),
            Item::Bad(why) => each(position, FuzzItem::Bad(&why)),
        };
        Ok(if go_on { Flow::Continue } else { Flow::Stop })
    });
    match read {
        Ok(end) => end,
        Err(never) => match never {},
    }
}

/// How much of the start the layout is told from.
const HEAD_BYTES: u64 = 4096;

/// The head of a source, and the reader of the rest.
type Head<'a> = (Vec<u8>, Box<dyn BufRead + 'a>);

/// The first bytes of the content (after a byte-order mark and whitespace; up to [`HEAD_BYTES`],
/// fewer only at the end of the input) and the reader of the rest; `None`: no content. A read
/// may return a few bytes only (at a gzip member boundary, say): the head is gathered over as many
/// reads as it takes, so the layout never depends on where a read happened to stop (found by
/// fuzzing: a multi-member gzip log file was read as JSON lines). An error after some content is
/// kept for the rest's reader, so what precedes it is still read.
fn read_head<'a>(mut reader: Box<dyn BufRead + 'a>) -> io::Result<Option<Head<'a>>> {
    let mut head = Vec::new();
    let mut at_start = true;
    loop {
        let want = HEAD_BYTES - head.len() as u64;
        let before = head.len();
        let read = reader.by_ref().take(want).read_to_end(&mut head);
        let at_end = read.is_ok() && ((head.len() - before) as u64) < want;
        if at_start && head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            head.drain(..3);
        }
        at_start = false;
        let blank = head.iter().take_while(|b| b.is_ascii_whitespace()).count();
        head.drain(..blank);
        match read {
            Err(e) if head.is_empty() => return Err(e),
            Err(e) => return Ok(Some((head, Box::new(Failing(Some(e)))))),
            Ok(_) if !head.is_empty() => return Ok(Some((head, reader))),
            Ok(_) if at_end => return Ok(None),
            // Whitespace only so far: read on.
            Ok(_) => {}
        }
    }
}

/// A reader that fails with the error it holds (then reads as empty).
struct Failing(Option<io::Error>);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

impl BufRead for Failing {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(&[]),
        }
    }
    fn consume(&mut self, _: usize) {}
}

/// The stream ended early (as opposed to holding bad data).
fn is_truncation(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::UnexpectedEof
}

fn read_error_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("truncated input (gzip stream ends early): {e}"),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => format!("corrupt gzip data: {e}"),
        _ => format!("read error: {e}"),
    }
}

/// CloudTrail writes UTF-8; bytes that are not (damage, or hostile input) read as U+FFFD, so a bad
/// byte costs only the string it is in. sonic-rs must only ever see valid UTF-8: it does not check
/// the raw JSON it keeps of lazily parsed members (`requestParameters`...), found by fuzzing.
fn make_utf8(buf: &mut Vec<u8>) {
    if std::str::from_utf8(buf).is_err() {
        *buf = String::from_utf8_lossy(buf).into_owned().into_bytes();
    }
}

/// `{ "Records"` (whitespace allowed): a CloudTrail log file.
fn starts_with_records_key(bytes: &[u8]) -> bool {
    let rest = bytes.strip_prefix(b"{").unwrap_or(bytes);
    let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    rest.starts_with(b"\"Records\"")
}

/// The whole document in memory; records numbered from 1.
fn read_document<E>(
    mut reader: Box<dyn BufRead + '_>,
    start: u64,
    bufs: &mut Buffers,
    sink: &mut impl FnMut(u64, Item<'_, '_>) -> Result<Flow, E>,
) -> Result<ReadEnd, E> {
    let json = &mut bufs.document;
    json.clear();
    // On a read error the bytes read so far are kept: the records they hold are still read.
    let read_error = reader.read_to_end(json).err();
    make_utf8(json);
    let mut end = deliver_document(json, 0, start, sink)?;
    if let Some(e) = read_error {
        end.truncated = is_truncation(&e);
        end.problem = Some(read_error_message(&e));
    }
    Ok(end)
}

/// Delivers the records of one document (`{"Records":[...]}` or `[...]`). Record `n` (1-based)
/// is delivered at position `base + n` if that is after `start`.
fn deliver_document<E>(json: &[u8], base: u64, start: u64, sink: &mut impl FnMut(u64, Item<'_, '_>) -> Result<Flow, E>) -> Result<ReadEnd, E> {
    let is_array = json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    // Fast path: records are parsed and handed over one at a time, straight from the document,
    // so no per-file vector of records is built (memory stays flat whatever the file sizes).
    let mut stream = RecordStream { base, start, sink: &mut *sink, parsed: 0, abort: None };
    let mut de = sonic_rs::Deserializer::from_slice(json);
    let streamed = if is_array {
        serde::de::DeserializeSeed::deserialize(RecordsSeed(&mut stream), &mut de)
    } else {
        serde::de::DeserializeSeed::deserialize(EnvelopeSeed(&mut stream), &mut de)
    }
    .and_then(|()| de.end());
    let parsed = stream.parsed;
    match stream.abort {
        Some(Abort::Sink(e)) => return Err(e),
        Some(Abort::Stop(n)) => return Ok(ReadEnd { position: n - 1, stopped: true, ..Default::default() }),
        None => {}
    }
    if streamed.is_ok() {
        return Ok(ReadEnd { position: (base + parsed).max(start), ..Default::default() });
    }
    // The records before the one that failed have been handled: the slow path goes on after them.
    let start = start.max(base + parsed);
    let mut position = start.max(base);
    // Slow path: record by record, so one bad record costs only itself.
    let Some(array_at) = records_array_offset(json, is_array) else {
        return Ok(ReadEnd { position, problem: Some("not CloudTrail: no \"Records\" array".into()), ..Default::default() });
    };
    for (i, element) in sonic_rs::to_array_iter(&json[array_at..]).enumerate() {
        let n = base + i as u64 + 1;
        match element {
            Ok(value) => {
                if n <= start {
                    continue;
                }
                position = n;
                let parsed = parse_record(value.as_raw_str().as_bytes());
                let item = match &parsed {
                    Ok(record) => Item::Record(record),
                    Err(e) => Item::Bad(format!("not a CloudTrail record: {e}")),
                };
                if sink(position, item)? == Flow::Stop {
                    return Ok(ReadEnd { position: n - 1, stopped: true, ..Default::default() });
                }
            }
            Err(e) => {
                position = position.max(n - 1);
                let problem = Some(format!("malformed JSON at record {n}: {e}"));
                // A document that does not end with its closing bracket was cut short (the
                // parser's error then names whatever byte it stopped at, rarely end-of-input).
                let truncated = e.is_eof() || !ends_closed(json, is_array);
                return Ok(ReadEnd { position, problem, truncated, ..Default::default() });
            }
        }
    }
    Ok(ReadEnd { position, ..Default::default() })
}

/// Why streaming stopped before the parser was done (carried past serde's error type).
enum Abort<E> {
    /// The sink asked to stop at this position.
    Stop(u64),
    Sink(E),
}

/// The state of a document streamed record by record into the sink.
struct RecordStream<'s, F, E> {
    base: u64,
    start: u64,
    sink: &'s mut F,
    /// Records parsed so far (delivered, or skipped as at or before `start`).
    parsed: u64,
    abort: Option<Abort<E>>,
}

/// `{"Records":[...]}` (other members ignored; exactly one `Records`).
struct EnvelopeSeed<'r, 's, F, E>(&'r mut RecordStream<'s, F, E>);
/// `[...]` of records.
struct RecordsSeed<'r, 's, F, E>(&'r mut RecordStream<'s, F, E>);
/// Whether a member name is `Records`.
struct IsRecordsKey;

impl<'de> serde::de::DeserializeSeed<'de> for IsRecordsKey {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for IsRecordsKey {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<Er: serde::de::Error>(self, v: &str) -> Result<bool, Er> {
        Ok(v == "Records")
    }
}

impl<'de, F, E> serde::de::DeserializeSeed<'de> for EnvelopeSeed<'_, '_, F, E>
where
    F: FnMut(u64, Item<'_, '_>) -> Result<Flow, E>,
{
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de, F, E> serde::de::Visitor<'de> for EnvelopeSeed<'_, '_, F, E>
where
    F: FnMut(u64, Item<'_, '_>) -> Result<Flow, E>,
{
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a CloudTrail log file")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(is_records) = map.next_key_seed(IsRecordsKey)? {
            if !is_records {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else if seen {
                return Err(serde::de::Error::duplicate_field("Records"));
            } else {
                seen = true;
                map.next_value_seed(RecordsSeed(&mut *self.0))?;
            }
        }
        if !seen {
            return Err(serde::de::Error::missing_field("Records"));
        }
        Ok(())
    }
}

impl<'de, F, E> serde::de::DeserializeSeed<'de> for RecordsSeed<'_, '_, F, E>
where
    F: FnMut(u64, Item<'_, '_>) -> Result<Flow, E>,
{
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de, F, E> serde::de::Visitor<'de> for RecordsSeed<'_, '_, F, E>
where
    F: FnMut(u64, Item<'_, '_>) -> Result<Flow, E>,
{
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let stream = self.0;
        while let Some(record) = seq.next_element::<CloudTrailRecord<'de>>()? {
            stream.parsed += 1;
            let n = stream.base + stream.parsed;
            if n <= stream.start {
                continue;
            }
            let abort = match (stream.sink)(n, Item::Record(&record)) {
                Ok(Flow::Continue) => continue,
                Ok(Flow::Stop) => Abort::Stop(n),
                Err(e) => Abort::Sink(e),
            };
            stream.abort = Some(abort);
            return Err(serde::de::Error::custom("stopped by the sink"));
        }
        Ok(())
    }
}

/// Whether the document ends as a complete one does: `]` for an array, `]}` for an envelope.
fn ends_closed(json: &[u8], is_array: bool) -> bool {
    let json = json.trim_ascii_end();
    if is_array {
        return json.last() == Some(&b']');
    }
    json.strip_suffix(b"}").is_some_and(|rest| rest.trim_ascii_end().last() == Some(&b']'))
}

/// Where the records array starts: the document itself, or the value of its `"Records"` key.
fn records_array_offset(json: &[u8], is_array: bool) -> Option<usize> {
    let skip_ws = |from: usize| from + json[from..].iter().take_while(|b| b.is_ascii_whitespace()).count();
    if is_array {
        return Some(skip_ws(0));
    }
    let key = memchr_find(json, b"\"Records\"")?;
    let colon = skip_ws(key + b"\"Records\"".len());
    (json.get(colon) == Some(&b':')).then(|| skip_ws(colon + 1)).filter(|&at| json.get(at) == Some(&b'['))
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// JSON lines, streamed; positions are line numbers.
fn read_lines<E>(
    mut reader: Box<dyn BufRead + '_>,
    start: u64,
    bufs: &mut Buffers,
    sink: &mut impl FnMut(u64, Item<'_, '_>) -> Result<Flow, E>,
) -> Result<ReadEnd, E> {
    let line = &mut bufs.line;
    let mut number = 0u64;
    let mut first_content_line: Option<u64> = None;
    let lines_end = |position: u64| ReadEnd { position, json_lines: true, ..Default::default() };
    let stopped_at = |number: u64| ReadEnd { position: number - 1, stopped: true, json_lines: true, ..Default::default() };
    loop {
        line.clear();
        match reader.read_until(b'\n', line) {
            Ok(0) => return Ok(lines_end(number.max(start))),
            Ok(_) => {}
            // The partial line is dropped: the stream ended inside it.
            Err(e) => {
                let problem = Some(read_error_message(&e));
                return Ok(ReadEnd { problem, truncated: is_truncation(&e), ..lines_end(number.max(start)) });
            }
        }
        number += 1;
        if number <= start {
            continue;
        }
        let unterminated = line.last() != Some(&b'\n');
        make_utf8(line);
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        first_content_line.get_or_insert(number);
        if starts_with_records_key(text) {
            // A whole CloudTrail file on one line: all its records share the line's position.
            if unterminated && sonic_rs::from_slice::<serde::de::IgnoredAny>(text).is_err_and(|e| e.is_eof()) {
                return Ok(unfinished_last_line(number));
            }
            let end = deliver_document(text, 0, 0, &mut |_, item| sink(number, item))?;
            if end.stopped {
                return Ok(stopped_at(number));
            }
            if let Some(problem) = end.problem
                && sink(number, Item::Bad(problem))? == Flow::Stop
            {
                return Ok(stopped_at(number));
            }
            continue;
        }
        let parsed = parse_record(text);
        let item = match &parsed {
            Ok(record) => Item::Record(record),
            Err(e) if e.is_eof() && first_content_line == Some(number) && start == 0 => {
                // An object that does not end on its first line: one pretty-printed document.
                let mut document = text.to_vec();
                let read_error = reader.read_to_end(&mut document).err();
                make_utf8(&mut document);
                let parsed = parse_record(&document);
                let item = match &parsed {
                    Ok(record) => Item::Record(record),
                    Err(e) if e.is_eof() => {
                        return Ok(ReadEnd {
                            position: number - 1,
                            problem: Some(format!("the document ends early: {e}")),
                            truncated: true,
                            // Read on from its start when it grows, whatever it turns out to be.
                            json_lines: true,
                            ..Default::default()
                        });
                    }
                    Err(e) => Item::Bad(format!("malformed JSON: {e}")),
                };
                if sink(number, item)? == Flow::Stop {
                    return Ok(ReadEnd { position: number - 1, stopped: true, ..Default::default() });
                }
                let truncated = read_error.as_ref().is_some_and(is_truncation);
                return Ok(ReadEnd { position: number, problem: read_error.as_ref().map(read_error_message), truncated, ..Default::default() });
            }
            // The writer has not finished the line yet: not a bad record.
            Err(e) if e.is_eof() && unterminated => return Ok(unfinished_last_line(number)),
            Err(e) => Item::Bad(format!("not a CloudTrail record: {e}")),
        };
        if sink(number, item)? == Flow::Stop {
            return Ok(stopped_at(number));
        }
    }
}

/// A Route 53 Resolver query-log line: JSON with `query_name` and `srcids` or `query_timestamp`
/// (CloudTrail records have neither), alone or after a CloudWatch Logs export timestamp.
fn is_query_log_line(line: &[u8]) -> bool {
    let line = query_json(line);
    if line.first() != Some(&b'{') {
        return false;
    }
    let has = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
    has(b"\"query_name\"") && (has(b"\"srcids\"") || has(b"\"query_timestamp\""))
}

/// A VPC flow-log line: a header naming flow-log fields, or a record in the operator's
/// `--flow-format` order if given, else in the default v2 order.
fn is_flow_log_line(line: &[u8], flow_format: Option<&FlowLayout>) -> bool {
    let Ok(text) = std::str::from_utf8(line) else { return false };
    let text = text.trim_end_matches(['\r', '\n']);
    match FlowLayout::from_header(text) {
        Some(layout) => layout.is_ok(),
        None => {
            let default = FlowLayout::default();
            matches!(flow_format.unwrap_or(&default).parse(text), Ok(FlowLine::Record(_)))
        }
    }
}

/// How the lines of a flow-log or query-log file are read.
enum LineKind {
    /// Flow logs: the reader keeps the layout its header lines declare.
    Flow(FlowReader),
    Query,
}

/// Flow-log or query-log lines (positions are line numbers). Lines skipped as already read still
/// pass through the flow reader when they are headers, so a resumed read keeps the file's layout.
/// NODATA / SKIPDATA rows and headers hand nothing to the sink.
fn read_text_lines<E>(
    mut reader: Box<dyn BufRead + '_>,
    start: u64,
    bufs: &mut Buffers,
    mut kind: LineKind,
    sink: &mut impl FnMut(u64, Item<'_, '_>) -> Result<Flow, E>,
) -> Result<ReadEnd, E> {
    let line = &mut bufs.line;
    let mut number = 0u64;
    let lines_end = |position: u64| ReadEnd { position, json_lines: true, ..Default::default() };
    loop {
        line.clear();
        match reader.read_until(b'\n', line) {
            Ok(0) => return Ok(lines_end(number.max(start))),
            Ok(_) => {}
            Err(e) => {
                let problem = Some(read_error_message(&e));
                return Ok(ReadEnd { problem, truncated: is_truncation(&e), ..lines_end(number.max(start)) });
            }
        }
        number += 1;
        let unterminated = line.last() != Some(&b'\n');
        make_utf8(line);
        let text = std::str::from_utf8(line.trim_ascii()).unwrap_or_default();
        if number <= start {
            if let LineKind::Flow(flow) = &mut kind
                && FlowLayout::from_header(text).is_some()
            {
                let _ = flow.read(text);
            }
            continue;
        }
        if text.is_empty() {
            continue;
        }
        let flow = match &mut kind {
            LineKind::Flow(flow) => flow.read(text),
            LineKind::Query => {
                let parsed = parse_query_record(text.as_bytes());
                let item = match &parsed {
                    Ok(record) => match record.missing_field() {
                        None => Item::Query(record),
                        Some(field) => Item::Bad(format!("not a query-log record: no {field}")),
                    },
                    Err(e) if e.is_eof() && unterminated => return Ok(unfinished_last_line(number)),
                    Err(e) => Item::Bad(format!("not a query-log record: {e}")),
                };
                if sink(number, item)? == Flow::Stop {
                    return Ok(ReadEnd { position: number - 1, stopped: true, json_lines: true, ..Default::default() });
                }
                continue;
            }
        };
        let item = match &flow {
            Ok(ReadLine::Line(FlowLine::Record(record))) => Item::Flow(record),
            Ok(ReadLine::Header | ReadLine::Blank | ReadLine::Line(FlowLine::Skipped(_))) => continue,
            // The writer has not finished the line yet: not a bad record.
            Err(_) if unterminated => return Ok(unfinished_last_line(number)),
            Err(e) => Item::Bad(format!("not a flow-log record: {e}")),
        };
        if sink(number, item)? == Flow::Stop {
            return Ok(ReadEnd { position: number - 1, stopped: true, json_lines: true, ..Default::default() });
        }
    }
}

/// The last line ends inside its JSON: the source ends before it.
fn unfinished_last_line(number: u64) -> ReadEnd {
    ReadEnd {
        position: number - 1,
        problem: Some("the last line is unfinished (no newline, JSON cut short)".into()),
        truncated: true,
        json_lines: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    type Seen = Vec<(u64, Result<String, String>)>;

    fn read_all(bytes: &[u8], start: u64) -> (Seen, ReadEnd) {
        let reader = decompressed(Box::new(bytes)).unwrap();
        let mut seen = Vec::new();
        let end = read_records::<()>(reader, start, &mut Buffers::default(), None, |pos, item| {
            seen.push((
                pos,
                match item {
                    Item::Record(r) => Ok(r.event_name.as_str().to_owned()),
                    Item::Flow(r) => Ok(format!("flow:{}", r.dstport.unwrap_or_default())),
                    Item::Query(r) => Ok(format!("query:{}", r.query_name.as_str())),
                    Item::Bad(why) => Err(why),
                },
            ));
            Ok(Flow::Continue)
        })
        .unwrap();
        (seen, end)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    const FILE: &[u8] = br#"{"Records":[{"eventName":"A"},{"eventName":"B"},{"eventName":"C"}]}"#;

    const FLOW_V2: &[u8] = b"2 123456789012 eni-1 198.51.100.7 10.0.0.5 40000 22 6 3 180 1700000000 1700000060 REJECT OK\n\
2 123456789012 eni-1 - - - - - - - 1700000000 1700000060 - NODATA\n\
garbage line\n\
2 123456789012 eni-1 198.51.100.7 10.0.0.5 40001 3389 6 3 180 1700000000 1700000060 ACCEPT OK\n";

    #[test]
    fn flow_logs_are_sniffed_with_or_without_header_and_resume_keeps_the_layout() {
        let (seen, end) = read_all(FLOW_V2, 0);
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0], (1, Ok("flow:22".into())));
        assert!(seen[1].0 == 3 && seen[1].1.as_ref().is_err_and(|e| e.starts_with("not a flow-log record")));
        assert_eq!(seen[2], (4, Ok("flow:3389".into())));
        assert_eq!(end.position, 4);
        // A custom order declared by its header; gzip; resumed after line 2.
        let custom = b"dstport srcaddr dstaddr account-id\n80 198.51.100.7 10.0.0.5 123456789012\n443 198.51.100.7 10.0.0.5 123456789012\n";
        let (seen, end) = read_all(&gzip(custom), 2);
        assert_eq!(seen, vec![(3, Ok("flow:443".into()))]);
        assert_eq!(end.position, 3);
    }

    #[test]
    fn query_logs_are_sniffed_and_cloudtrail_lines_are_not() {
        let lines = b"{\"version\":\"1.1\",\"account_id\":\"123456789012\",\"region\":\"us-east-1\",\"query_timestamp\":\"2021-02-04T17:51:55Z\",\"query_name\":\"example.com.\",\"srcids\":{\"instance\":\"i-1\"}}\n{\"query_name\":\"x.com.\",\"srcids\":{}}\n";
        let (seen, _) = read_all(lines, 0);
        assert_eq!(seen[0], (1, Ok("query:example.com.".into())));
        assert!(seen[1].1.as_ref().is_err_and(|e| e.contains("no account_id")), "{seen:?}");
        // CloudTrail JSON lines stay CloudTrail even when a member is called query_name.
        let (seen, _) = read_all(b"{\"eventName\":\"A\",\"requestParameters\":{\"query_name\":1}}\n", 0);
        assert_eq!(seen, vec![(1, Ok("A".into()))]);
    }

    /// Resolver query logs sent to CloudWatch Logs and exported to S3 (`000000.gz` objects): each
    /// line is the event's timestamp, a space and the record.
    #[test]
    fn query_logs_exported_from_cloudwatch_logs_are_sniffed_plain_and_gzipped() {
        let record = |name: &str| {
            format!(
                "{{\"version\":\"1.100000\",\"account_id\":\"123456789012\",\"region\":\"us-east-1\",\"query_timestamp\":\"2021-02-04T17:51:55Z\",\"query_name\":\"{name}\",\"srcids\":{{\"instance\":\"i-1\"}}}}"
            )
        };
        let export = format!(
            "2021-02-04T17:51:56.001Z {}\n2021-02-04T17:51:56.002Z {}\n2021-02-04T17:51:56.003Z not json\n\n2021-02-04T17:51:57.000Z {}",
            record("a.example."),
            record("b.example."),
            record("c.example.")
        );
        for bytes in [export.clone().into_bytes(), gzip(export.as_bytes())] {
            let (seen, end) = read_all(&bytes, 0);
            assert_eq!(seen.len(), 4, "{seen:?}");
            assert_eq!(seen[0], (1, Ok("query:a.example.".into())));
            assert_eq!(seen[1], (2, Ok("query:b.example.".into())));
            assert!(seen[2].0 == 3 && seen[2].1.as_ref().is_err_and(|e| e.starts_with("not a query-log record")));
            assert_eq!(seen[3], (5, Ok("query:c.example.".into())), "last line without a newline");
            assert!(end.json_lines && end.position == 5 && end.problem.is_none(), "{end:?}");
        }
        // Resumed after line 2 of the gzipped export.
        let (seen, _) = read_all(&gzip(export.as_bytes()), 2);
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [3, 5]);
        // A mixed file (plain lines, then exported ones) reads every line as a query.
        let mixed = format!("{}\n2021-02-04T17:51:56.002Z {}\n", record("a.example."), record("b.example."));
        let (seen, _) = read_all(mixed.as_bytes(), 0);
        assert_eq!(seen, [(1, Ok("query:a.example.".into())), (2, Ok("query:b.example.".into()))]);
        // A flow-log export stays a flow log; a timestamp before CloudTrail JSON is not a query log.
        let flow = b"2021-02-04T17:51:56.001Z 2 123456789012 eni-1 198.51.100.7 10.0.0.5 40000 22 6 3 180 1700000000 1700000060 REJECT OK\n";
        assert_eq!(read_all(flow, 0).0, [(1, Ok("flow:22".into()))]);
        let (seen, end) = read_all(b"2021-02-04T17:51:56.001Z {\"eventName\":\"A\"}\n", 0);
        assert!(seen.is_empty() && end.problem.is_some(), "{seen:?} {end:?}");
    }

    #[test]
    fn cloudtrail_file_plain_and_gzipped() {
        for bytes in [FILE.to_vec(), gzip(FILE)] {
            let (seen, end) = read_all(&bytes, 0);
            let names: Vec<_> = seen.iter().map(|(p, r)| (*p, r.clone().unwrap())).collect();
            assert_eq!(names, [(1, "A".to_owned()), (2, "B".to_owned()), (3, "C".to_owned())]);
            assert_eq!(end.position, 3);
            assert!(end.problem.is_none());
        }
    }

    #[test]
    fn resumes_after_the_recorded_position() {
        let (seen, end) = read_all(FILE, 2);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, 3);
        assert_eq!(end.position, 3);
        let lines = b"{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n{\"eventName\":\"C\"}\n";
        let (seen, end) = read_all(lines, 1);
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(end.position, 3);
        let (seen, end) = read_all(FILE, 3);
        assert!(seen.is_empty());
        assert_eq!(end.position, 3);
    }

    #[test]
    fn a_bad_record_costs_only_itself() {
        let doc = br#"{"Records":[{"eventName":"A"},"oops",[1],{"eventName":"D"}]}"#;
        let (seen, end) = read_all(doc, 0);
        assert_eq!(seen.len(), 4);
        assert!(seen[1].1.is_err() && seen[2].1.is_err());
        assert_eq!(seen[3], (4, Ok("D".to_owned())));
        assert!(end.problem.is_none());
    }

    #[test]
    fn malformed_and_truncated_documents_keep_what_precedes() {
        let (seen, end) = read_all(br#"{"Records":[{"eventName":"A"},{"eventName":"B"},{"eventNa"#, 0);
        assert_eq!(seen.len(), 2);
        assert_eq!(end.position, 2);
        assert!(end.problem.unwrap().contains("record 3"));

        let gz = gzip(FILE);
        let (seen, end) = read_all(&gz[..gz.len() - 12], 0);
        assert!(seen.len() < 3);
        assert!(end.problem.unwrap().contains("truncated"), "truncated gzip reported");
    }

    #[test]
    fn json_lines_with_blank_bad_and_envelope_lines() {
        let input = b"{\"eventName\":\"A\"}\n\n  not json\n{\"Records\":[{\"eventName\":\"B\"},{\"eventName\":\"C\"}]}\n{\"eventName\":\"D\"}";
        let (seen, end) = read_all(input, 0);
        let summary: Vec<_> = seen.iter().map(|(p, r)| (*p, r.clone().unwrap_or_else(|_| "BAD".into()))).collect();
        assert_eq!(summary, [(1, "A".into()), (3, "BAD".into()), (4, "B".into()), (4, "C".into()), (5, "D".into())]);
        assert_eq!(end.position, 5);
    }

    #[test]
    fn a_pretty_printed_document_is_one_record() {
        let (seen, end) = read_all(b"{\n  \"eventName\": \"A\",\n  \"eventSource\": \"x\"\n}\n", 0);
        assert_eq!(seen, [(1, Ok("A".to_owned()))]);
        assert_eq!(end.position, 1);
        let (seen, _) = read_all(b"{\n  \"files\": [1,\n 2]\n}\n", 0);
        assert_eq!(seen, [(1, Ok(String::new()))], "one object (not CloudTrail: the ingester reports it once)");
        let (seen, end) = read_all(b"{\n  \"files\": [1,\n", 0);
        assert!(seen.is_empty(), "cut short: nothing delivered, the whole source is the problem");
        assert!(end.truncated && end.position == 0, "{end:?}");
        let (seen, end) = read_all(b"{\n  \"files\": [1,\n]]\n", 0);
        assert!(seen.len() == 1 && seen[0].1.is_err() && !end.truncated, "complete but malformed: one bad record");
    }

    #[test]
    fn input_that_ends_inside_a_record_is_truncated_not_bad() {
        let lines = b"{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n{\"eventNa";
        let (seen, end) = read_all(lines, 0);
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2], "the unfinished line is not delivered");
        assert!(end.truncated && end.json_lines && end.position == 2, "{end:?}");
        // The same bytes with a newline: a finished line that is malformed.
        let mut finished = lines.to_vec();
        finished.push(b'\n');
        let (seen, end) = read_all(&finished, 0);
        assert!(seen.len() == 3 && seen[2].1.is_err() && !end.truncated);

        let gz = gzip(FILE);
        let (_, end) = read_all(&gz[..gz.len() - 12], 0);
        assert!(end.truncated, "gzip stream cut short");
        let (seen, end) = read_all(&FILE[..FILE.len() - 20], 0);
        assert!(end.truncated && end.position == seen.len() as u64, "plain document cut short: {end:?}");
        let (seen, end) = read_all(b"  \n", 0);
        assert!(seen.is_empty() && end.empty && !end.truncated);
    }

    #[test]
    fn a_stop_or_an_error_from_the_sink_ends_the_document_there() {
        for doc in [FILE, br#"[{"eventName":"A"},{"eventName":"B"},{"eventName":"C"}]"#.as_slice()] {
            let mut seen = Vec::new();
            let end = read_records::<()>(Box::new(doc), 0, &mut Buffers::default(), None, |pos, _| {
                seen.push(pos);
                Ok(if pos == 2 { Flow::Stop } else { Flow::Continue })
            })
            .unwrap();
            assert_eq!(seen, [1, 2]);
            assert!(end.stopped && end.position == 1, "{end:?}");
            let failed = read_records(Box::new(doc), 0, &mut Buffers::default(), None, |pos, _| if pos == 3 { Err(pos) } else { Ok(Flow::Continue) });
            assert_eq!(failed.unwrap_err(), 3);
        }
    }

    #[test]
    fn a_record_of_the_wrong_shape_mid_file_is_read_once() {
        // Records before it stream, the slow path takes over at it: nothing delivered twice.
        let doc = br#"{"Records":[{"eventName":"A"},"oops",{"eventName":"C"}],"x":[1]}"#;
        let (seen, end) = read_all(doc, 0);
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2, 3], "{seen:?}");
        assert!(seen[1].1.is_err() && seen[2].1 == Ok("C".to_owned()));
        assert_eq!(end.position, 3);
        let (seen, _) = read_all(br#"{"Records":[{"eventName":"A"}],"Records":[{"eventName":"B"}]}"#, 0);
        assert_eq!(seen, [(1, Ok("A".to_owned()))], "a second Records member is not read");
    }

    #[test]
    fn bytes_that_are_not_utf8_cost_only_their_string() {
        // Found by fuzzing: an invalid byte inside a lazily kept member (requestParameters) used
        // to reach sonic-rs unchecked (a debug assertion, undefined behaviour in release).
        let record = b"{\"eventName\":\"A\",\"requestParameters\":{\"bucketName\":\"b\xadx\"}}";
        let document = [b"{\"Records\":[".as_slice(), record, b",{\"eventName\":\"B\"}]}"].concat();
        let lines = [record.as_slice(), b"\n{\"eventName\":\"B\"}\n"].concat();
        for input in [document.clone(), gzip(&document), lines] {
            let (seen, end) = read_all(&input, 0);
            assert_eq!(seen, [(1, Ok("A".to_owned())), (2, Ok("B".to_owned()))], "{end:?}");
        }
    }

    #[test]
    fn the_layout_does_not_depend_on_where_a_read_stops() {
        // Found by fuzzing: gzip members concatenated (as `cat a.gz b.gz` makes) end a read at
        // each boundary; a first member of a few bytes made a log file look like JSON lines.
        let pretty = b"{\n  \"Records\": [\n    {\"eventName\": \"A\"},\n    {\"eventName\": \"B\"}\n  ]\n}\n";
        for cut in [1, 2, 5, 12, 20] {
            let members = [gzip(&pretty[..cut]), gzip(&pretty[cut..])].concat();
            let (seen, end) = read_all(&members, 0);
            assert_eq!(seen, [(1, Ok("A".to_owned())), (2, Ok("B".to_owned()))], "cut at {cut}: {end:?}");
            assert!(!end.json_lines && end.problem.is_none(), "cut at {cut}: {end:?}");
        }
        // A byte-order mark and a long run of blank lines before the content.
        let padded = [b"\xef\xbb\xbf".as_slice(), &[b' '; 10_000], pretty].concat();
        let (seen, _) = read_all(&gzip(&padded), 0);
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn not_json_at_all() {
        let (seen, end) = read_all(b"\x00\x01binary", 0);
        assert!(seen.is_empty());
        assert!(end.problem.unwrap().contains("not CloudTrail"));
        let (seen, end) = read_all(br#"{"Records": 5}"#, 0);
        assert!(seen.is_empty());
        assert!(end.problem.unwrap().contains("Records"));
        let (seen, end) = read_all(b"", 0);
        assert!(seen.is_empty() && end.problem.is_none());
    }
}
