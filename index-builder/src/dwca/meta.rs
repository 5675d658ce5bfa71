//! meta.xml (the DwC text guide) and the few eml.xml fields a dataset needs.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::error::DwcaError;
use super::text::{Dialect, Encoding};
use crate::model::SourcePos;

/// One `<field>` of a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldSpec {
    /// Column, or `None` for a constant (default-only) field.
    pub(crate) index: Option<usize>,
    /// Term URI as written.
    pub(crate) term: String,
    /// Value when the column is absent or empty.
    pub(crate) default: Option<String>,
}

/// A `<core>` or `<extension>`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableSpec {
    /// `rowType` URI.
    pub(crate) row_type: String,
    /// `<files><location>`s.
    pub(crate) locations: Vec<String>,
    /// How to split the file.
    pub(crate) dialect: Dialect,
    /// The `encoding` attribute when it is not one we know (read as UTF-8).
    pub(crate) unknown_encoding: Option<String>,
    /// `ignoreHeaderLines`.
    pub(crate) header_lines: usize,
    /// `<id index>` (core) or `<coreid index>` (extension).
    pub(crate) id_index: Option<usize>,
    /// `<field>`s.
    pub(crate) fields: Vec<FieldSpec>,
}

/// A parsed meta.xml.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetaSpec {
    /// The core table.
    pub(crate) core: TableSpec,
    /// Extensions in document order.
    pub(crate) extensions: Vec<TableSpec>,
    /// `metadata` attribute of `<archive>` (the eml file).
    pub(crate) metadata: Option<String>,
}

/// Resolve the five predefined XML entities and character references (`&#9;`, `&#x9;`).
///
/// Attribute values are unescaped by hand, not through quick-xml's normaliser, because that turns a literal
/// tab in `fieldsTerminatedBy` into a space.
pub(crate) fn unescape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match after.find(';') {
            Some(semi) if semi <= 10 => {
                match entity(&after[..semi]) {
                    Some(c) => out.push(c),
                    None => out.push_str(&rest[amp..amp + 2 + semi]),
                }
                rest = &after[semi + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity name (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

fn ref_char(r: &BytesRef<'_>) -> Option<char> {
    entity(r)
}

/// Attributes of an element as (local name, unescaped value).
fn attrs(e: &BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .flatten()
        .map(|a| (a.key.local_name().as_ref().to_string(), unescape_xml(&a.value)))
        .collect()
}

fn attr<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Undo the backslash escapes meta.xml writers use (`\t`, `\\t`, `\n`, `\r`).
fn unescape_c(s: &str) -> String {
    let mut s = s.to_string();
    while s.contains("\\\\") {
        s = s.replace("\\\\", "\\");
    }
    let s = s.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r");
    if s.eq_ignore_ascii_case("tab") {
        return "\t".into();
    }
    s
}

fn xml_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

fn line_at(text: &str, offset: u64) -> u64 {
    let end = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Parse meta.xml. `file` names it in errors.
pub(crate) fn parse_meta(bytes: &[u8], file: &str) -> Result<MetaSpec, DwcaError> {
    let text = xml_text(bytes);
    let mut reader = Reader::from_str(&text);
    // Self-closing tables then still produce an End event, where their checks run.
    reader.config_mut().expand_empty_elements = true;
    let err = |line: u64, reason: String| DwcaError::MetaXml {
        pos: SourcePos {
            file: file.to_string(),
            line,
        },
        reason,
    };
    let mut core: Option<TableSpec> = None;
    let mut extensions = Vec::new();
    let mut metadata = None;
    let mut current: Option<(bool, TableSpec)> = None;
    let mut in_location = false;
    let mut location = String::new();
    let mut saw_archive = false;
    loop {
        let pos = reader.buffer_position();
        let ev = reader
            .read_event()
            .map_err(|e| err(line_at(&text, reader.error_position()), e.to_string()))?;
        let line = line_at(&text, pos);
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                let a = attrs(&e);
                match name.as_str() {
                    "archive" => {
                        saw_archive = true;
                        metadata = attr(&a, "metadata")
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string);
                    }
                    "core" | "extension" => {
                        if current.is_some() {
                            return Err(err(line, format!("<{name}> inside another table")));
                        }
                        let spec = table_spec(&a).map_err(|r| err(line, r))?;
                        current = Some((name == "core", spec));
                    }
                    "location" => {
                        in_location = true;
                        location.clear();
                    }
                    "id" | "coreid" => {
                        if let Some((_, t)) = current.as_mut() {
                            t.id_index =
                                parse_index(attr(&a, "index")).map_err(|r| err(line, format!("<{name}>: {r}")))?;
                        }
                    }
                    "field" => {
                        if let Some((_, t)) = current.as_mut() {
                            let index =
                                parse_index(attr(&a, "index")).map_err(|r| err(line, format!("<field>: {r}")))?;
                            let term = attr(&a, "term").unwrap_or("").trim().to_string();
                            if term.is_empty() {
                                return Err(err(line, "<field> without a term".into()));
                            }
                            let default = attr(&a, "default").map(str::to_string);
                            if index.is_none() && default.is_none() {
                                // Neither a column nor a constant: nothing to read, harmless.
                                continue;
                            }
                            t.fields.push(FieldSpec { index, term, default });
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_location => location.push_str(&t),
            Event::CData(t) if in_location => location.push_str(&t.into_inner()),
            Event::GeneralRef(r) if in_location => {
                if let Some(c) = ref_char(&r) {
                    location.push(c);
                }
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_string();
                match name.as_str() {
                    "location" => {
                        in_location = false;
                        let loc = location.trim();
                        if let (Some((_, t)), false) = (current.as_mut(), loc.is_empty()) {
                            t.locations.push(loc.to_string());
                        }
                    }
                    "core" | "extension" => {
                        if let Some((is_core, t)) = current.take() {
                            if t.locations.is_empty() {
                                return Err(err(line, format!("<{name}> has no <location>")));
                            }
                            if is_core {
                                if core.is_some() {
                                    return Err(err(line, "more than one <core>".into()));
                                }
                                core = Some(t);
                            } else {
                                extensions.push(t);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if current.is_some() {
        return Err(err(0, "unclosed <core>/<extension>".into()));
    }
    if !saw_archive {
        return Err(err(0, "no <archive> element".into()));
    }
    let core = core.ok_or_else(|| err(0, "no <core> table".into()))?;
    Ok(MetaSpec {
        core,
        extensions,
        metadata,
    })
}

fn parse_index(v: Option<&str>) -> Result<Option<usize>, String> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| format!("index `{s}` is not a non-negative integer")),
    }
}

fn table_spec(a: &[(String, String)]) -> Result<TableSpec, String> {
    let row_type = attr(a, "rowType").unwrap_or("").trim().to_string();
    if row_type.is_empty() {
        return Err("table without rowType".into());
    }
    // Defaults of the DwC text guide: comma, newline, double quote, UTF-8, no header.
    let delim = unescape_c(attr(a, "fieldsTerminatedBy").unwrap_or(","));
    let delimiter = match delim.as_bytes() {
        [b] => *b,
        _ => return Err(format!("unsupported fieldsTerminatedBy `{delim}`")),
    };
    let quote = unescape_c(attr(a, "fieldsEnclosedBy").unwrap_or("\""));
    let quote = match quote.as_bytes() {
        [] => None,
        [b] => Some(*b),
        _ => return Err(format!("unsupported fieldsEnclosedBy `{quote}`")),
    };
    let lines = unescape_c(attr(a, "linesTerminatedBy").unwrap_or("\n"));
    let line_end = if lines == "\r" { b'\r' } else { b'\n' };
    let enc_attr = attr(a, "encoding").unwrap_or("UTF-8");
    let (encoding, unknown_encoding) = match Encoding::parse(enc_attr) {
        Some(e) => (e, None),
        None => (Encoding::Utf8, Some(enc_attr.to_string())),
    };
    let header_lines = match attr(a, "ignoreHeaderLines").map(str::trim) {
        None | Some("") => 0,
        Some(s) => s
            .parse()
            .map_err(|_| format!("ignoreHeaderLines `{s}` is not a number"))?,
    };
    Ok(TableSpec {
        row_type,
        locations: Vec::new(),
        dialect: Dialect {
            delimiter,
            quote,
            line_end,
            encoding,
        },
        unknown_encoding,
        header_lines,
        id_index: None,
        fields: Vec::new(),
    })
}

/// What eml.xml says about a dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Eml {
    /// First `alternateIdentifier`, else `packageId`.
    pub(crate) key: Option<String>,
    /// `dataset/title`.
    pub(crate) title: Option<String>,
    /// `intellectualRights`: the ulink URL, else the text.
    pub(crate) licence: Option<String>,
}

fn collapse_ws(s: &str) -> Option<String> {
    let out = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!out.is_empty()).then_some(out)
}

/// Parse the dataset key, title and licence out of eml.xml.
pub(crate) fn parse_eml(bytes: &[u8]) -> Result<Eml, String> {
    let text = xml_text(bytes);
    let mut reader = Reader::from_str(&text);
    // Every element then has an End event, which keeps the element stack balanced.
    reader.config_mut().expand_empty_elements = true;
    let mut stack: Vec<String> = Vec::new();
    let mut package_id = None;
    let mut alt_id: Option<String> = None;
    let mut title: Option<String> = None;
    let mut rights_text = String::new();
    let mut rights_url: Option<String> = None;
    // What the text being collected belongs to.
    #[derive(PartialEq)]
    enum Collect {
        None,
        AltId,
        Title,
    }
    let mut collect = Collect::None;
    let mut buf = String::new();
    loop {
        let ev = reader.read_event().map_err(|e| e.to_string())?;
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                let a = attrs(&e);
                if stack.is_empty() {
                    package_id = attr(&a, "packageId").and_then(collapse_ws);
                }
                let parent_is_dataset = stack.last().is_some_and(|p| p == "dataset");
                if in_rights(&stack) || name == "intellectualRights" {
                    if name == "ulink" && rights_url.is_none() {
                        rights_url = attr(&a, "url").and_then(collapse_ws);
                    }
                    rights_text.push(' ');
                }
                if parent_is_dataset && name == "alternateIdentifier" && alt_id.is_none() {
                    collect = Collect::AltId;
                    buf.clear();
                } else if parent_is_dataset && name == "title" && title.is_none() {
                    collect = Collect::Title;
                    buf.clear();
                }
                stack.push(name);
            }
            Event::Text(t) => {
                if collect != Collect::None {
                    buf.push_str(&t);
                }
                if in_rights(&stack) {
                    rights_text.push_str(&t);
                }
            }
            Event::CData(t) => {
                let t = t.into_inner();
                if collect != Collect::None {
                    buf.push_str(&t);
                }
                if in_rights(&stack) {
                    rights_text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(c) = ref_char(&r) {
                    if collect != Collect::None {
                        buf.push(c);
                    }
                    if in_rights(&stack) {
                        rights_text.push(c);
                    }
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                match collect {
                    Collect::AltId if name == "alternateIdentifier" => {
                        alt_id = collapse_ws(&buf);
                        collect = Collect::None;
                    }
                    Collect::Title if name == "title" => {
                        title = collapse_ws(&buf);
                        collect = Collect::None;
                    }
                    _ => {}
                }
                if in_rights(&stack) {
                    rights_text.push(' ');
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(Eml {
        key: alt_id.or(package_id),
        title,
        licence: rights_url.or_else(|| collapse_ws(&rights_text)),
    })
}

fn in_rights(stack: &[String]) -> bool {
    stack.iter().any(|s| s == "intellectualRights")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dwca_meta_parses_dialect_and_defaults() {
        let xml = br#"<?xml version="1.0"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
<core encoding="ISO-8859-1" fieldsTerminatedBy="\t" linesTerminatedBy="\r\n" fieldsEnclosedBy='' ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">
  <files><location>occ&#46;txt</location></files>
  <id index="0"/>
  <field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>
  <field default="ITS2" term="https://w3id.org/mixs/0000044"/>
</core>
<extension fieldsTerminatedBy="&#9;" rowType="http://rs.gbif.org/terms/1.0/DNADerivedData">
  <files><location> dna.txt </location></files>
  <coreid index="0" />
  <field index="1" term="http://rs.gbif.org/terms/dna_sequence"/>
</extension>
</archive>"#;
        let m = parse_meta(xml, "meta.xml").expect("parse");
        assert_eq!(m.metadata.as_deref(), Some("eml.xml"));
        assert_eq!(m.core.locations, vec!["occ.txt".to_string()]);
        assert_eq!(m.core.dialect.delimiter, b'\t');
        assert_eq!(m.core.dialect.quote, None);
        assert_eq!(m.core.dialect.encoding, Encoding::Latin1);
        assert_eq!(m.core.header_lines, 1);
        assert_eq!(m.core.id_index, Some(0));
        assert_eq!(m.core.fields[1].index, None);
        assert_eq!(m.core.fields[1].default.as_deref(), Some("ITS2"));
        let ext = &m.extensions[0];
        assert_eq!(ext.locations, vec!["dna.txt".to_string()]);
        assert_eq!(ext.dialect.delimiter, b'\t');
        assert_eq!(ext.dialect.quote, Some(b'"'));
    }

    #[test]
    fn dwca_meta_rejects_garbage() {
        assert!(matches!(
            parse_meta(b"<archive><core rowType='x'><files></files></core></archive>", "m"),
            Err(DwcaError::MetaXml { .. })
        ));
        assert!(matches!(
            parse_meta(b"<archive><core rowType='x'", "m"),
            Err(DwcaError::MetaXml { .. })
        ));
        assert!(matches!(
            parse_meta(b"not xml at all", "m"),
            Err(DwcaError::MetaXml { .. })
        ));
    }

    #[test]
    fn dwca_eml_fields() {
        let xml = br#"<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1" packageId="pkg/v1">
<dataset>
  <alternateIdentifier>doi:10.1/x</alternateIdentifier>
  <alternateIdentifier>second</alternateIdentifier>
  <title xml:lang="en">Fish &amp; chips</title>
  <project><title>Not this</title></project>
  <intellectualRights><para>This work is licensed under a <ulink url="http://creativecommons.org/licenses/by/4.0/legalcode"><citetitle>CC-BY 4.0</citetitle></ulink>.</para></intellectualRights>
</dataset></eml:eml>"#;
        let e = parse_eml(xml).expect("eml");
        assert_eq!(e.key.as_deref(), Some("doi:10.1/x"));
        assert_eq!(e.title.as_deref(), Some("Fish & chips"));
        assert_eq!(
            e.licence.as_deref(),
            Some("http://creativecommons.org/licenses/by/4.0/legalcode")
        );
        let e = parse_eml(br#"<eml packageId=" p1 "><dataset><title>T</title><intellectualRights><para> CC0 1.0 </para></intellectualRights></dataset></eml>"#).expect("eml");
        assert_eq!(e.key.as_deref(), Some("p1"));
        assert_eq!(e.licence.as_deref(), Some("CC0 1.0"));
    }
}
