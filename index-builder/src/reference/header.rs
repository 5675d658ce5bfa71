//! FASTA header styles of reference libraries: detection and per-style parsing.

use super::lineage::parse_lineage;
use crate::model::{HeaderStyle, RankedName};

/// What one header says about its record.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ParsedHeader {
    /// Record id, when the header has one.
    pub id: Option<String>,
    /// Lineage, when the header has one.
    pub lineage: Vec<RankedName>,
    /// blast-ws `name` (SH code, BIN) when the header has one.
    pub name: Option<String>,
    /// Accession when the header has one.
    pub accession: Option<String>,
}

/// Styles in tie-break order: the more specific a style's marks, the earlier.
const STYLES: [HeaderStyle; 7] = [
    HeaderStyle::Sintax,
    HeaderStyle::Unite,
    HeaderStyle::Bold,
    HeaderStyle::RdpTab,
    HeaderStyle::LineageAccession,
    HeaderStyle::Dada2,
    HeaderStyle::IdWithTable,
];

/// Detects the header style from the first headers of a file (the text after `>`).
///
/// Each header is classified on its own and the most common style wins (ties go to the style with
/// the more specific marks). With a taxonomy table, bare-id headers win as soon as they are at least
/// half of the sample, since the table is then the lineage source. No headers → `IdWithTable`.
pub fn detect_style(first_headers: &[&str], has_taxonomy_table: bool) -> HeaderStyle {
    let mut votes = [0usize; STYLES.len()];
    for h in first_headers {
        let style = classify_header(h);
        if let Some(i) = STYLES.iter().position(|&s| s == style) {
            votes[i] += 1;
        }
    }
    let total: usize = votes.iter().sum();
    let bare = votes[STYLES.len() - 1];
    if total == 0 || (has_taxonomy_table && bare > 0 && bare * 2 >= total) {
        return HeaderStyle::IdWithTable;
    }
    let mut best = 0;
    for i in 1..STYLES.len() {
        if votes[i] > votes[best] {
            best = i;
        }
    }
    STYLES[best]
}

/// Style of a single header.
pub(crate) fn classify_header(h: &str) -> HeaderStyle {
    let h = h.trim();
    if h.contains(";tax=") || h.starts_with("tax=") {
        return HeaderStyle::Sintax;
    }
    if h.contains('\t') && h.rsplit('\t').next().is_some_and(|l| l.contains(';')) {
        return HeaderStyle::RdpTab;
    }
    if h.contains('|') {
        let fields: Vec<&str> = h.split('|').collect();
        if fields.iter().any(|f| is_bold_bin(f)) {
            return HeaderStyle::Bold;
        }
        if fields.get(2).is_some_and(|f| is_sh_code(f)) || fields.iter().any(|f| f.contains("k__") || f.contains("p__"))
        {
            return HeaderStyle::Unite;
        }
        return HeaderStyle::Bold;
    }
    if split_lineage_accession(h).is_some() {
        return HeaderStyle::LineageAccession;
    }
    let (first, rest) = split_first_word(h);
    if first.contains(';') {
        return HeaderStyle::Dada2;
    }
    if rest.is_some_and(looks_like_lineage) {
        return HeaderStyle::RdpTab;
    }
    HeaderStyle::IdWithTable
}

/// BOLD BIN, e.g. `BOLD:AAR9768`.
pub(crate) fn is_bold_bin(s: &str) -> bool {
    let Some(code) = s.trim().strip_prefix("BOLD:") else {
        return false;
    };
    let b = code.as_bytes();
    b.len() == 7 && b[..3].iter().all(u8::is_ascii_alphanumeric) && b[3..].iter().all(u8::is_ascii_digit)
}

/// UNITE species-hypothesis code, e.g. `SH1227328.09FU`.
fn is_sh_code(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("SH") && s.as_bytes().get(2).is_some_and(u8::is_ascii_digit)
}

fn split_first_word(h: &str) -> (&str, Option<&str>) {
    match h.find([' ', '\t']) {
        Some(p) => (&h[..p], Some(&h[p + 1..])),
        None => (h, None),
    }
}

/// A description that is a lineage: rank prefixes, or at least three `;`-separated parts.
fn looks_like_lineage(s: &str) -> bool {
    s.contains("__") || s.split(';').filter(|p| !p.trim().is_empty()).count() >= 3
}

/// `Lineage;…;Species (ACCESSION)` → (lineage, accession).
fn split_lineage_accession(h: &str) -> Option<(&str, &str)> {
    let inner = h.strip_suffix(')')?;
    let open = inner.rfind(" (")?;
    let (lineage, acc) = (&inner[..open], inner[open + 2..].trim());
    let ok = lineage.contains(';') && !acc.is_empty() && !acc.contains([' ', ';', '(']);
    ok.then_some((lineage.trim(), acc))
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Parses `header` (the whole line after `>`) in the given style. Never fails: what a header does
/// not have is left empty, and the caller generates ids and reports missing taxonomy.
pub(crate) fn parse_header(style: HeaderStyle, header: &str) -> ParsedHeader {
    let h = header.trim();
    let first_word = || non_empty(split_first_word(h).0);
    match style {
        HeaderStyle::Unite => {
            let fields: Vec<&str> = h.split('|').collect();
            if fields.len() < 2 {
                return ParsedHeader {
                    id: first_word(),
                    ..Default::default()
                };
            }
            let accession = non_empty(fields[1]);
            let lineage = fields
                .iter()
                .skip(2)
                .rev()
                .find(|f| f.contains("__") || f.contains(';'))
                .map(|f| parse_lineage(f))
                .unwrap_or_default();
            // blast-ws `name` is the third field with `_` turned into spaces.
            let name = fields.get(2).and_then(|f| non_empty(f)).map(|f| f.replace('_', " "));
            ParsedHeader {
                id: accession.clone(),
                lineage,
                name,
                accession,
            }
        }
        HeaderStyle::Bold => {
            let fields: Vec<&str> = h.split('|').map(str::trim).collect();
            let bin = fields.iter().position(|f| is_bold_bin(f));
            // The process id is the first real field before the BIN (`centroid=|CNKJE030-14|BOLD:…`).
            let id = fields[..bin.unwrap_or(fields.len())]
                .iter()
                .find(|f| !f.is_empty() && !f.ends_with('=') && !f.contains("://"))
                .map(|f| f.to_string())
                .or_else(first_word);
            let lineage = match fields.iter().find(|f| f.contains(';') || f.contains("__")) {
                Some(f) => parse_lineage(f),
                // PR2-native `acc|Eukaryota|…|species`: the fields after the id are the lineage.
                None if bin.is_none() && fields.len() >= 6 => parse_lineage(&fields[1..].join(";")),
                None => Vec::new(),
            };
            ParsedHeader {
                accession: id.clone(),
                id,
                lineage,
                name: bin.map(|i| fields[i].to_string()),
            }
        }
        HeaderStyle::Sintax => {
            let id = h.split(';').next().and_then(non_empty);
            let lineage = h
                .find("tax=")
                .map(|p| {
                    let tax = &h[p + 4..];
                    parse_lineage(tax.split(';').next().unwrap_or(""))
                })
                .unwrap_or_default();
            ParsedHeader {
                id,
                lineage,
                ..Default::default()
            }
        }
        HeaderStyle::Dada2 => ParsedHeader {
            lineage: parse_lineage(h),
            ..Default::default()
        },
        HeaderStyle::IdWithTable => ParsedHeader {
            id: first_word(),
            ..Default::default()
        },
        HeaderStyle::RdpTab => {
            let lineage = if h.contains('\t') {
                h.rsplit('\t').next().map(parse_lineage).unwrap_or_default()
            } else {
                split_first_word(h)
                    .1
                    .filter(|d| looks_like_lineage(d))
                    .map(parse_lineage)
                    .unwrap_or_default()
            };
            ParsedHeader {
                id: first_word(),
                lineage,
                ..Default::default()
            }
        }
        HeaderStyle::LineageAccession => match split_lineage_accession(h) {
            Some((lineage, acc)) => ParsedHeader {
                id: Some(acc.to_string()),
                lineage: parse_lineage(lineage),
                name: None,
                accession: Some(acc.to_string()),
            },
            // A header without the accession: treat it as a bare DADA2 lineage.
            None => ParsedHeader {
                lineage: parse_lineage(h),
                ..Default::default()
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNITE: &str = "Abrothallus_subhalei|MT153946|SH1227328.09FU|reps|k__Fungi;p__Ascomycota;c__Dothideomycetes;o__Abrothallales;f__Abrothallaceae;g__Abrothallus;s__Abrothallus_subhalei";
    const SINTAX: &str = "KY106084;tax=k:Fungi,p:Ascomycota,c:Sordariomycetes,o:Hypocreales,f:Sarocladiaceae,g:Sarocladium,s:Sarocladium_kiliense;";
    const DADA2: &str = "Fungi;Basidiomycota;Agaricomycetes;Russulales;Russulaceae;Russula;Russula_sp";
    const BOLD: &str = "centroid=|CNKJE030-14|BOLD:AAR9768|https://www.ncbi.nlm.nih.gov/nuccore/KR389545|seqs:74";
    const RDP4: &str = "7000004128189528\tAcidothermus cellulolyticus 11B, complete genome. \t7000004128189528|16s_rRNA|ATC1|x|351607\tBacteria; Actinobacteria; Actinobacteria; Actinomycetales; Acidothermaceae; Acidothermus";
    const RDP2: &str = "S000000010 Aeromicrobium fastidiosum (T); DSM 10552T; Z78209 Aeromicrobium fastidiosum\tBacteria; Actinobacteria; Actinobacteria; Actinomycetales; Nocardioidaceae; Aeromicrobium";
    const SCANDI: &str =
        "Eukaryota;Chordata;Actinopteri;Stomiiformes;Gonostomatidae;Cyclothone;Cyclothone_braueri (LC091677.1)";

    #[test]
    fn classify_each_style() {
        assert_eq!(classify_header(UNITE), HeaderStyle::Unite);
        assert_eq!(classify_header(SINTAX), HeaderStyle::Sintax);
        assert_eq!(classify_header(DADA2), HeaderStyle::Dada2);
        assert_eq!(classify_header(BOLD), HeaderStyle::Bold);
        assert_eq!(
            classify_header("ABC123-10|BOLD:AAA0001|Homo sapiens"),
            HeaderStyle::Bold
        );
        assert_eq!(classify_header(RDP4), HeaderStyle::RdpTab);
        assert_eq!(classify_header(RDP2), HeaderStyle::RdpTab);
        assert_eq!(classify_header(SCANDI), HeaderStyle::LineageAccession);
        assert_eq!(classify_header("AB771798.1.1671_U"), HeaderStyle::IdWithTable);
        assert_eq!(classify_header("KM879223 some description"), HeaderStyle::IdWithTable);
        assert_eq!(classify_header("KM879223 k__Animalia;p__Chordata"), HeaderStyle::RdpTab);
    }

    #[test]
    fn detect_by_majority() {
        let hs = [DADA2, DADA2, "Fungi", DADA2];
        assert_eq!(detect_style(&hs, false), HeaderStyle::Dada2);
        let hs = ["AB006953", "AB015962 x"];
        assert_eq!(detect_style(&hs, true), HeaderStyle::IdWithTable);
        assert_eq!(detect_style(&hs, false), HeaderStyle::IdWithTable);
        assert_eq!(detect_style(&[], false), HeaderStyle::IdWithTable);
        assert_eq!(detect_style(&[UNITE, UNITE], true), HeaderStyle::Unite);
    }

    #[test]
    fn parse_unite() {
        let p = parse_header(HeaderStyle::Unite, UNITE);
        assert_eq!(p.id.as_deref(), Some("MT153946"));
        assert_eq!(p.accession.as_deref(), Some("MT153946"));
        assert_eq!(p.name.as_deref(), Some("SH1227328.09FU"));
        assert_eq!(p.lineage.len(), 7);
        assert_eq!(p.lineage[6].name, "Abrothallus subhalei");
    }

    #[test]
    fn parse_bold() {
        let p = parse_header(HeaderStyle::Bold, BOLD);
        assert_eq!(p.id.as_deref(), Some("CNKJE030-14"));
        assert_eq!(p.name.as_deref(), Some("BOLD:AAR9768"));
        assert!(p.lineage.is_empty());
        let p = parse_header(
            HeaderStyle::Bold,
            "GBMIN1234-13|BOLD:ACE1234|k__Animalia;p__Arthropoda;c__Insecta",
        );
        assert_eq!(p.id.as_deref(), Some("GBMIN1234-13"));
        assert_eq!(p.lineage.len(), 3);
        // PR2-native pipes.
        let p = parse_header(
            HeaderStyle::Bold,
            "AY505519.1.1799_U|Eukaryota|Archaeplastida|Chlorophyta|Chlorophyta_X|Trebouxiophyceae|Chlorellales|Chlorellaceae|Chlorella|Chlorella_vulgaris",
        );
        assert_eq!(p.id.as_deref(), Some("AY505519.1.1799_U"));
        assert_eq!(p.lineage.len(), 8);
        assert_eq!(p.lineage[7].rank, "species");
        assert_eq!(p.name, None);
    }

    #[test]
    fn parse_sintax_dada2_rdp_scandi() {
        let p = parse_header(HeaderStyle::Sintax, SINTAX);
        assert_eq!(p.id.as_deref(), Some("KY106084"));
        assert_eq!(p.lineage[0].rank, "kingdom");
        assert_eq!(p.lineage[6].name, "Sarocladium kiliense");

        let p = parse_header(HeaderStyle::Dada2, DADA2);
        assert_eq!(p.id, None);
        assert_eq!(p.lineage[6].name, "Russula sp");

        for h in [RDP4, RDP2] {
            let p = parse_header(HeaderStyle::RdpTab, h);
            assert!(p.id.is_some());
            assert_eq!(p.lineage.len(), 6);
            assert_eq!(p.lineage[0].rank, "domain");
            assert_eq!(p.lineage[5].rank, "genus");
        }
        assert_eq!(
            parse_header(HeaderStyle::RdpTab, RDP2).id.as_deref(),
            Some("S000000010")
        );

        let p = parse_header(HeaderStyle::LineageAccession, SCANDI);
        assert_eq!(p.id.as_deref(), Some("LC091677.1"));
        assert_eq!(p.accession.as_deref(), Some("LC091677.1"));
        assert_eq!(p.lineage[6].name, "Cyclothone braueri");
        assert_eq!(p.lineage[0].rank, "domain");
    }
}
