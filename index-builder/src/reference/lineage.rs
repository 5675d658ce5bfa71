//! Lineage strings (`k__Fungi;p__Ascomycota;…`, `Fungi;Ascomycota;…`, `d:Fungi,p:…`) to ranked names.
//!
//! Reference libraries write lineages in a handful of ways. Ranks come from prefixes when there are
//! any (`k__`, `d:`), else from the depth (a 9-level lineage is PR2, a 6-level one RDP, …), else — for
//! irregular NCBI-style lineages with a published rank list, as in GBIF refdb packages — from a fit
//! that anchors names by their form (`-ales` is an order, `Genus species` a species) and fills the
//! gaps top-down.

use crate::model::RankedName;

/// `kingdom … species` (UNITE, DADA2 fungal sets).
pub const RANKS_7: &[&str] = &["kingdom", "phylum", "class", "order", "family", "genus", "species"];
/// 7 levels led by a domain name (`Eukaryota;Chordata;…`, ScandiFish, MIDORI-like sets).
pub const RANKS_7_DOMAIN: &[&str] = &["domain", "phylum", "class", "order", "family", "genus", "species"];
/// `domain kingdom … species`.
pub const RANKS_8: &[&str] = &[
    "domain", "kingdom", "phylum", "class", "order", "family", "genus", "species",
];
/// PR2 v5 ranks.
pub const RANKS_PR2: &[&str] = &[
    "domain",
    "supergroup",
    "division",
    "subdivision",
    "class",
    "order",
    "family",
    "genus",
    "species",
];
/// RDP: `domain … genus` (no kingdom, no species).
pub const RANKS_RDP: &[&str] = &["domain", "phylum", "class", "order", "family", "genus"];
/// 6 levels not led by a domain: `kingdom … genus` (a 7-level set without species).
pub const RANKS_6_KINGDOM: &[&str] = &["kingdom", "phylum", "class", "order", "family", "genus"];

/// Ranks that are filled first when a lineage has fewer names than a rank list has slots.
const MAJOR_RANKS: &[&str] = &[
    "domain", "kingdom", "phylum", "class", "order", "family", "genus", "species",
];

/// Top-level names that mark a lineage as domain-led.
fn is_domain_name(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "eukaryota" | "eukarya" | "bacteria" | "archaea" | "prokaryota"
    )
}

/// Rank from a QIIME/UNITE (`k__`) or SINTAX (`k:`) prefix letter.
fn prefix_rank(p: &str) -> Option<&'static str> {
    Some(match p {
        // NCBI renamed superkingdom to domain; one rank name keeps lineages comparable.
        "d" | "sk" => "domain",
        "k" => "kingdom",
        "p" => "phylum",
        "c" => "class",
        "o" => "order",
        "f" => "family",
        "g" => "genus",
        "s" => "species",
        _ => return None,
    })
}

/// Splits `k__Name` / `k:Name` into (rank, name).
fn split_prefix(part: &str) -> Option<(&'static str, &str)> {
    let b = part.as_bytes();
    let n = b.iter().take_while(|c| c.is_ascii_lowercase()).count();
    if n == 0 || n > 2 {
        return None;
    }
    let rest = &part[n..];
    let name = rest.strip_prefix("__").or_else(|| rest.strip_prefix(':'))?;
    Some((prefix_rank(&part[..n])?, name))
}

/// Cleans one published name: quotes and surrounding space off, `_` → space; `None` for placeholders.
pub fn clean_name(raw: &str) -> Option<String> {
    let s = raw.trim().trim_matches('"').trim();
    // A bare rank mark (`s__`, `g:`) is an empty name.
    if s.is_empty() || split_prefix(s).is_some_and(|(_, rest)| rest.trim().is_empty()) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c == '_' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if is_placeholder(&out) {
        None
    } else {
        Some(out)
    }
}

/// Names that stand for "no name at this rank".
fn is_placeholder(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "" | "na"
            | "n/a"
            | "nan"
            | "null"
            | "none"
            | "-"
            | "sp"
            | "sp."
            | "unknown"
            | "unassigned"
            | "undefined"
            | "root"
            | "cellular organisms"
            | "environmental samples"
            | "candidate division"
    ) {
        return true;
    }
    if lower.starts_with("unidentified")
        || lower.starts_with("unclassified")
        || lower.starts_with("uncultured")
        || lower.contains("incertae sedis")
    {
        return true;
    }
    // PR2 writes unnamed ranks as the parent name plus `_X`, `_XX`, … (`Alveolata_XX`,
    // `Alveolata_XXXXX_sp.`): any later word made only of X's marks a placeholder.
    name.split(' ')
        .skip(1)
        .any(|w| !w.is_empty() && w.bytes().all(|b| b == b'X'))
}

/// Parses a lineage string; see the module docs for how ranks are chosen.
///
/// Parts are split on `;` (or on `,` for a SINTAX `d:…,p:…` list), trimmed, empty trailing parts
/// dropped. Rank prefixes `k__ p__ … d__ sk__` and `d: k: p: …` give the rank. Without prefixes the
/// depth picks the rank list: 7 → kingdom..species (domain..species when led by `Eukaryota`,
/// `Bacteria`, `Archaea`), 8 → domain, kingdom..species, 9 → PR2, 6 → domain..genus (RDP) or
/// kingdom..genus. Other depths are fitted (see [`parse_lineage_with_ranks`]). Placeholder names
/// (`unidentified`, `NA`, `Alveolata_XX`, …) are dropped after ranks are assigned, so they do not
/// shift the ranks of the names below them.
pub fn parse_lineage(s: &str) -> Vec<RankedName> {
    let parts = split_parts(s);
    if parts.is_empty() {
        return Vec::new();
    }
    let prefixed: Vec<Option<(&'static str, &str)>> = parts.iter().map(|p| split_prefix(p)).collect();
    let n_prefixed = prefixed.iter().filter(|p| p.is_some()).count();

    if n_prefixed == 0 {
        let first = clean_name(parts[0]).unwrap_or_default();
        let domain_led = is_domain_name(&first);
        let ranks: &[&str] = match parts.len() {
            9 => RANKS_PR2,
            8 => RANKS_8,
            7 if domain_led => RANKS_7_DOMAIN,
            7 => RANKS_7,
            6 if domain_led => RANKS_RDP,
            6 => RANKS_6_KINGDOM,
            _ => {
                let ranks = if domain_led { RANKS_8 } else { RANKS_7 };
                return parse_lineage_with_ranks(s, ranks, None);
            }
        };
        return parts.iter().zip(ranks).filter_map(|(p, r)| ranked(r, p)).collect();
    }

    // Prefixed (possibly mixed): a prefix gives the rank, an unprefixed part its position in the
    // standard list for this depth.
    let ranks = if parts.len() >= 8 { RANKS_8 } else { RANKS_7 };
    prefixed
        .iter()
        .zip(&parts)
        .enumerate()
        .filter_map(|(i, (pre, raw))| match pre {
            Some((rank, name)) => ranked(rank, name),
            None => {
                let rank = ranks.get(i).copied().map(str::to_string);
                let rank = rank.unwrap_or_else(|| format!("rank{}", i + 1));
                clean_name(raw).map(|name| RankedName { rank, name })
            }
        })
        .collect()
}

fn ranked(rank: &str, raw: &str) -> Option<RankedName> {
    clean_name(raw).map(|name| RankedName {
        rank: rank.to_string(),
        name,
    })
}

/// Splits on `;` (SINTAX: on `,`), trims, drops empty trailing parts and a leading `Root`.
fn split_parts(s: &str) -> Vec<&str> {
    let s = s.trim();
    let sintax = !s.contains(';') && s.contains(',') && split_prefix(s).is_some();
    let mut parts: Vec<&str> = if sintax {
        s.split(',').map(str::trim).collect()
    } else {
        s.split(';').map(str::trim).collect()
    };
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    // RDP/mothur-style sets start with an artificial root node.
    if parts.first().is_some_and(|p| p.eq_ignore_ascii_case("root")) {
        parts.remove(0);
    }
    parts
}

/// Nodes of NCBI-style lineages that are not ranks (clades, "unclassified X", species groups).
fn is_clade(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(" group")
        || lower.ends_with(" complex")
        || lower.ends_with(" clade")
        || lower.contains('/')
        || lower.starts_with("unclassified")
        || lower.starts_with("environmental")
}

/// Rank suggested by a name's ending (nomenclature codes fix the suffixes of these ranks).
fn suffix_rank(name: &str) -> Option<&'static str> {
    let name = name.strip_prefix("Candidatus ").unwrap_or(name);
    if name.contains(' ') {
        return None;
    }
    let l = name.to_ascii_lowercase();
    let rules: &[(&str, &str)] = &[
        ("aceae", "family"),
        ("idae", "family"),
        ("ales", "order"),
        ("formes", "order"),
        ("mycetes", "class"),
        ("phyceae", "class"),
        ("mycota", "phylum"),
        ("ota", "phylum"),
        ("ati", "kingdom"),
    ];
    rules
        .iter()
        .find(|(suffix, _)| l.ends_with(suffix) && l.len() > suffix.len() + 2)
        .map(|&(_, rank)| rank)
}

/// Words of a name, ignoring `Candidatus`.
fn name_words(name: &str) -> Vec<&str> {
    name.split(' ')
        .filter(|w| !w.is_empty() && !w.eq_ignore_ascii_case("candidatus"))
        .collect()
}

/// `Genus epithet…` or `Genus sp.`: a capitalised word followed by a lower-case one.
fn is_species_like(name: &str) -> bool {
    let words = name_words(name);
    words.len() >= 2
        && words[0].starts_with(|c: char| c.is_ascii_uppercase())
        && words[1].starts_with(|c: char| c.is_ascii_lowercase())
}

fn is_prokaryote_domain(name: &str) -> bool {
    name.eq_ignore_ascii_case("bacteria") || name.eq_ignore_ascii_case("archaea")
}

/// Parses a lineage whose rank list is published (GBIF refdb `taxonRanks`) but whose depth varies.
///
/// NCBI-derived lineages skip ranks and insert clades (`Stenosarchaea group`), so positions do not
/// match the rank list. Clades, placeholders and repeated names are dropped; names are anchored
/// where their form tells the rank: a leading domain name; a last `Genus species` (with its genus
/// before it); `-ales`/`-formes` order; `-aceae`/`-idae` family; `-ota`/`-mycota` phylum;
/// `-mycetes`/`-phyceae` class; `-ati` kingdom. `last_rank` (the record's `taxonRank`) anchors a last
/// name that is not a binomial (a uninomial under `species` is taken as the genus). Names between
/// anchors fill the free ranks top-down, major ranks first; below a prokaryote domain, kingdom and
/// subkingdom are only used by `-ati` names (NCBI's prokaryote kingdoms), so `Bacteria;Firmicutes;
/// Bacilli` gives phylum and class. Names beyond the free ranks are dropped.
pub fn parse_lineage_with_ranks(s: &str, ranks: &[&str], last_rank: Option<&str>) -> Vec<RankedName> {
    let mut names: Vec<String> = split_parts(s)
        .into_iter()
        .filter_map(|p| split_prefix(p).map_or(Some(p), |(_, n)| Some(n)))
        .filter_map(clean_name)
        .filter(|n| !is_clade(n))
        .collect();
    names.dedup();
    if names.is_empty() || ranks.is_empty() {
        return Vec::new();
    }
    let rank_idx = |r: &str| ranks.iter().position(|x| x.eq_ignore_ascii_case(r));
    let n = names.len();
    let mut anchor: Vec<Option<usize>> = vec![None; n];

    let domain_led = is_domain_name(&names[0]);
    if domain_led {
        anchor[0] = rank_idx("domain");
    }
    let last = &names[n - 1];
    if is_species_like(last) {
        anchor[n - 1] = rank_idx("species");
        if n >= 2 && name_words(&names[n - 2]).first() == name_words(last).first() {
            anchor[n - 2] = rank_idx("genus");
        }
    } else if let Some(r) = last_rank {
        let r = if r.eq_ignore_ascii_case("species") && name_words(last).len() == 1 {
            "genus"
        } else {
            r
        };
        anchor[n - 1] = rank_idx(r);
    }
    for i in 0..n {
        if anchor[i].is_none() && !(i == 0 && domain_led) {
            anchor[i] = suffix_rank(&names[i]).and_then(rank_idx);
        }
    }
    // Anchors must increase down the lineage; a suffix that contradicts an earlier anchor is ignored.
    let mut prev: Option<usize> = None;
    for a in anchor.iter_mut() {
        if let Some(r) = *a {
            if prev.is_some_and(|p| r <= p) {
                *a = None;
            } else {
                prev = Some(r);
            }
        }
    }
    let mut excluded = vec![false; ranks.len()];
    if anchor[0].is_some() && is_prokaryote_domain(&names[0]) {
        for r in ["kingdom", "subkingdom"] {
            if let Some(i) = rank_idx(r) {
                excluded[i] = !anchor.contains(&Some(i));
            }
        }
    }

    let mut out: Vec<RankedName> = Vec::with_capacity(n);
    let mut i = 0;
    let mut lo = 0usize; // first free rank index
    while i < n {
        if let Some(r) = anchor[i] {
            out.push(RankedName {
                rank: ranks[r].to_string(),
                name: names[i].clone(),
            });
            lo = r + 1;
            i += 1;
            continue;
        }
        // A run of unanchored names up to the next anchor (or the end).
        let run_end = (i..n).find(|&j| anchor[j].is_some()).unwrap_or(n);
        let hi = anchor.get(run_end).copied().flatten().unwrap_or(ranks.len());
        let k = run_end - i;
        let mut slots: Vec<usize> = (lo..hi.max(lo)).filter(|&r| !excluded[r]).collect();
        if slots.len() < k {
            slots = (lo..hi.max(lo)).collect();
        }
        for (j, slot) in choose_slots(&slots, k, ranks).into_iter().enumerate() {
            out.push(RankedName {
                rank: ranks[slot].to_string(),
                name: names[i + j].clone(),
            });
        }
        i = run_end;
    }
    out
}

/// Picks `k` of `slots` (rank indexes, ascending), major ranks first, each group top-down; the
/// result is ascending. With fewer slots than names, all slots are used (the caller drops the names
/// left over).
fn choose_slots(slots: &[usize], k: usize, ranks: &[&str]) -> Vec<usize> {
    if k >= slots.len() {
        return slots.to_vec();
    }
    let (major, minor): (Vec<usize>, Vec<usize>) = slots.iter().partition(|&&s| MAJOR_RANKS.contains(&ranks[s]));
    let mut chosen: Vec<usize> = major.into_iter().chain(minor).take(k).collect();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[RankedName]) -> Vec<(&str, &str)> {
        v.iter().map(|r| (r.rank.as_str(), r.name.as_str())).collect()
    }

    #[test]
    fn qiime_prefixes() {
        let l = parse_lineage(
            "d__Eukaryota; p__Chordata;c__Actinopteri;o__Cypriniformes;f__Cyprinidae;g__Gymnocypris;s__Gymnocypris eckloni chilianensis",
        );
        assert_eq!(
            pairs(&l),
            vec![
                ("domain", "Eukaryota"),
                ("phylum", "Chordata"),
                ("class", "Actinopteri"),
                ("order", "Cypriniformes"),
                ("family", "Cyprinidae"),
                ("genus", "Gymnocypris"),
                ("species", "Gymnocypris eckloni chilianensis"),
            ]
        );
    }

    #[test]
    fn unite_prefixes_with_placeholders() {
        let l = parse_lineage(
            "k__Fungi;p__Ascomycota;c__Ascomycota_cls_Incertae_sedis;o__;f__unidentified;g__Russula;s__Russula_sp",
        );
        assert_eq!(
            pairs(&l),
            vec![
                ("kingdom", "Fungi"),
                ("phylum", "Ascomycota"),
                ("genus", "Russula"),
                ("species", "Russula sp"),
            ]
        );
    }

    #[test]
    fn sintax_list() {
        let l = parse_lineage("d:Bacteria,p:Firmicutes,c:Bacilli,g:Streptococcus");
        assert_eq!(
            pairs(&l),
            vec![
                ("domain", "Bacteria"),
                ("phylum", "Firmicutes"),
                ("class", "Bacilli"),
                ("genus", "Streptococcus"),
            ]
        );
    }

    #[test]
    fn dada2_seven_levels() {
        let l = parse_lineage("Fungi;Basidiomycota;Agaricomycetes;Russulales;Russulaceae;Russula;Russula_sp");
        assert_eq!(l.len(), 7);
        assert_eq!(pairs(&l)[0], ("kingdom", "Fungi"));
        assert_eq!(pairs(&l)[6], ("species", "Russula sp"));
        // Trailing empty parts do not count toward the depth.
        let l = parse_lineage("Fungi;Basidiomycota;Agaricomycetes;Russulales;Russulaceae;Russula;Russula_sp;;");
        assert_eq!(l.len(), 7);
    }

    #[test]
    fn domain_led_seven_levels() {
        let l =
            parse_lineage("Eukaryota;Chordata;Actinopteri;Stomiiformes;Gonostomatidae;Cyclothone;Cyclothone_braueri");
        assert_eq!(pairs(&l)[0], ("domain", "Eukaryota"));
        assert_eq!(pairs(&l)[1], ("phylum", "Chordata"));
        assert_eq!(pairs(&l)[6], ("species", "Cyclothone braueri"));
    }

    #[test]
    fn pr2_nine_levels_drop_x_placeholders() {
        let l = parse_lineage(
            "Eukaryota; TSAR; Alveolata; Alveolata_X; Alveolata_XX; Alveolata_XXX; Alveolata_XXXX; Alveolata_XXXXX; Alveolata_XXXXX_sp.",
        );
        assert_eq!(
            pairs(&l),
            vec![
                ("domain", "Eukaryota"),
                ("supergroup", "TSAR"),
                ("division", "Alveolata")
            ]
        );
        let l = parse_lineage(
            "Eukaryota;Obazoa;Opisthokonta;Fungi;Basidiomycota;Agaricomycetes;Russulaceae;Russula;Russula_emetica",
        );
        assert_eq!(pairs(&l)[3], ("subdivision", "Fungi"));
        assert_eq!(pairs(&l)[8], ("species", "Russula emetica"));
    }

    #[test]
    fn rdp_six_levels() {
        let l =
            parse_lineage("Bacteria; Actinobacteria; Actinobacteria; Actinomycetales; Acidothermaceae; Acidothermus");
        assert_eq!(pairs(&l)[0], ("domain", "Bacteria"));
        assert_eq!(pairs(&l)[5], ("genus", "Acidothermus"));
        let l = parse_lineage("Root;Bacteria;Firmicutes;Bacilli;Lactobacillales;Streptococcaceae;Streptococcus");
        assert_eq!(pairs(&l)[0], ("domain", "Bacteria"));
        assert_eq!(l.len(), 6);
    }

    #[test]
    fn eight_levels_and_short() {
        let l = parse_lineage(
            "Eukaryota;Fungi;Ascomycota;Sordariomycetes;Hypocreales;Nectriaceae;Fusarium;Fusarium_solani",
        );
        assert_eq!(pairs(&l)[1], ("kingdom", "Fungi"));
        assert_eq!(pairs(&l)[7], ("species", "Fusarium solani"));
        let l = parse_lineage("Fungi;Ascomycota;NA");
        assert_eq!(pairs(&l), vec![("kingdom", "Fungi"), ("phylum", "Ascomycota")]);
        assert!(parse_lineage("").is_empty());
        assert!(parse_lineage(" ; ;").is_empty());
    }

    #[test]
    fn fit_ncbi_lineage_with_clades() {
        let ranks = [
            "domain",
            "kingdom",
            "subkingdom",
            "phylum",
            "class",
            "order",
            "family",
            "genus",
            "species",
        ];
        let l = parse_lineage_with_ranks(
            "Archaea;Methanobacteriati;Methanobacteriota;Methanomada group;Methanobacteria;Methanobacteriales;Methanobacteriaceae;Methanobrevibacter;Methanobrevibacter_intestini",
            &ranks,
            Some("species"),
        );
        assert_eq!(
            pairs(&l),
            vec![
                ("domain", "Archaea"),
                ("kingdom", "Methanobacteriati"),
                ("phylum", "Methanobacteriota"),
                ("class", "Methanobacteria"),
                ("order", "Methanobacteriales"),
                ("family", "Methanobacteriaceae"),
                ("genus", "Methanobrevibacter"),
                ("species", "Methanobrevibacter intestini"),
            ]
        );
        // Shorter: phylum and class fill the gap between domain and order.
        let l = parse_lineage_with_ranks(
            "Archaea;Thermoproteota;Thermoprotei;Sulfolobales;Sulfolobaceae;Sulfolobus;\"Sulfolobus_mongibelli\"",
            &ranks,
            Some("genus"),
        );
        assert_eq!(pairs(&l)[1], ("phylum", "Thermoproteota"));
        assert_eq!(pairs(&l)[2], ("class", "Thermoprotei"));
        assert_eq!(pairs(&l)[6], ("species", "Sulfolobus mongibelli"));
        // "unclassified X" nodes are dropped.
        let l = parse_lineage_with_ranks(
            "Archaea;Euryarchaeota;Stenosarchaea group;Halobacteria;Natrialbales;Natrialbaceae;Salinarchaeum;unclassified Salinarchaeum;Salinarchaeum_sp.",
            &ranks,
            Some("species"),
        );
        assert_eq!(pairs(&l)[5], ("genus", "Salinarchaeum"));
        assert_eq!(pairs(&l)[6], ("species", "Salinarchaeum sp."));
    }

    #[test]
    fn fit_interior_run_sits_above_lower_anchor() {
        let ranks = [
            "domain",
            "kingdom",
            "subkingdom",
            "phylum",
            "class",
            "order",
            "family",
            "genus",
            "species",
        ];
        let l = parse_lineage_with_ranks(
            "Bacteria;Firmicutes;Bacilli;Bacillales;Bacillaceae;Bacillus;Bacillus_subtilis",
            &ranks,
            Some("species"),
        );
        assert_eq!(pairs(&l)[1], ("phylum", "Firmicutes"));
        assert_eq!(pairs(&l)[2], ("class", "Bacilli"));
        // Genus-level gap: phylum and class, not kingdom.
        let l = parse_lineage_with_ranks(
            "Bacteria;Acidobacteria;Blastocatellia;Chloracidobacterium;Chloracidobacterium_thermophilum",
            &ranks,
            Some("species"),
        );
        assert_eq!(pairs(&l)[1], ("phylum", "Acidobacteria"));
        assert_eq!(pairs(&l)[2], ("class", "Blastocatellia"));
        // `Candidatus` names keep their suffix rank.
        let l = parse_lineage_with_ranks(
            "Archaea;Candidatus Thermoplasmatota;Aciduliprofundum;Aciduliprofundum_boonei",
            &ranks,
            Some("species"),
        );
        assert_eq!(pairs(&l)[1], ("phylum", "Candidatus Thermoplasmatota"));
        // Not a binomial: the published rank applies; repeated and placeholder names go.
        let l = parse_lineage_with_ranks(
            "Bacteria;candidate division WWE3;candidate_division",
            &ranks,
            Some("phylum"),
        );
        assert_eq!(
            pairs(&l),
            vec![("domain", "Bacteria"), ("phylum", "candidate division WWE3")]
        );
        let l = parse_lineage_with_ranks(
            "Archaea;Candidatus Korarchaeota;Candidatus Korarchaeum;Candidatus_Korarchaeum",
            &ranks,
            Some("species"),
        );
        assert_eq!(pairs(&l)[2], ("genus", "Candidatus Korarchaeum"));
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn fit_genus_level_record() {
        let ranks = RANKS_7;
        let l = parse_lineage_with_ranks(
            "Bacteria;Actinobacteria;Corynebacteriales;Mycobacteriaceae;Mycolicibacterium",
            ranks,
            Some("genus"),
        );
        assert_eq!(
            pairs(&l),
            vec![
                ("kingdom", "Bacteria"),
                ("phylum", "Actinobacteria"),
                ("order", "Corynebacteriales"),
                ("family", "Mycobacteriaceae"),
                ("genus", "Mycolicibacterium"),
            ]
        );
    }

    #[test]
    fn clean_names() {
        assert_eq!(clean_name(" Russula_sp ").as_deref(), Some("Russula sp"));
        assert_eq!(
            clean_name("\"Candidatus_Kinetoplastibacterium\"").as_deref(),
            Some("Candidatus Kinetoplastibacterium")
        );
        for p in [
            "",
            "NA",
            "unidentified",
            "__",
            "s__",
            "Unassigned",
            "Alveolata_XX",
            "Fungi_cls_Incertae_sedis",
        ] {
            assert_eq!(clean_name(p), None, "{p}");
        }
        // A genus called X-something is not a placeholder.
        assert_eq!(clean_name("Xenopus").as_deref(), Some("Xenopus"));
    }
}
