//! Reference reader tests on small inline libraries, plus an ignored run over the real libraries.

use super::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;

struct Out {
    records: Vec<ReferenceRecord>,
    warnings: Vec<Warning>,
}

impl Out {
    fn reasons(&self) -> Vec<&'static str> {
        self.warnings.iter().map(|w| w.reason).collect()
    }
    fn ids(&self) -> Vec<&str> {
        self.records.iter().map(|r| r.id.as_str()).collect()
    }
}

fn run(spec: &LibrarySpec) -> Result<(LibraryMeta, Out), ReferenceError> {
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let meta = read_library(spec, &mut |r| records.push(r), &mut |w| warnings.push(w))?;
    Ok((meta, Out { records, warnings }))
}

fn run_ok(spec: &LibrarySpec) -> (LibraryMeta, Out) {
    run(spec).unwrap_or_else(|e| panic!("{e}"))
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn spec(fasta: PathBuf) -> LibrarySpec {
    LibrarySpec {
        fasta,
        ..Default::default()
    }
}

fn lineage_of(r: &ReferenceRecord) -> Vec<(&str, &str)> {
    r.lineage.iter().map(|x| (x.rank.as_str(), x.name.as_str())).collect()
}

#[test]
fn unite_library() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = write(
        dir.path(),
        "sh_general_release_dynamic_ITS_v9.0.fasta",
        b">Abrothallus_subhalei|MT153946|SH1227328.09FU|reps|k__Fungi;p__Ascomycota;c__Dothideomycetes;o__Abrothallales;f__Abrothallaceae;g__Abrothallus;s__Abrothallus_subhalei\nACGT\n\
>Russula_sp|UDB0001|SH0000001.09FU|refs|k__Fungi;p__Basidiomycota;c__Agaricomycetes;o__Russulales;f__Russulaceae;g__Russula;s__unidentified\nGGCC\n",
    );
    let (meta, out) = run_ok(&spec(fasta));
    assert_eq!(out.ids(), vec!["MT153946", "UDB0001"]);
    assert_eq!(out.records[0].name.as_deref(), Some("SH1227328.09FU"));
    assert_eq!(out.records[0].accession.as_deref(), Some("MT153946"));
    assert_eq!(out.records[0].lineage.len(), 7);
    assert_eq!(out.records[1].lineage.last().map(|r| r.rank.as_str()), Some("genus"));
    assert_eq!(out.records[0].pos.line, 1);
    assert_eq!(out.records[1].pos.line, 3);
    assert_eq!(meta.marker, "ITS");
    assert_eq!(meta.version.as_deref(), Some("9.0"));
    assert_eq!(meta.name, "sh_general_release_dynamic_ITS_v9.0");
    assert!(out.warnings.is_empty());
}

#[test]
fn dada2_library_generates_ids_and_skips_empty() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = write(
        dir.path(),
        "ITS1_if-unite-insdc_fungi.fasta.gz",
        &gz(
            b">Fungi;Basidiomycota;Agaricomycetes;Russulales;Russulaceae;Russula;Russula_sp\nACGT\n\
>Fungi;Basidiomycota;Agaricomycetes;Russulales;Russulaceae;Russula;Russula_sp\nAC\n\
>Fungi;Ascomycota;NA;NA;NA;NA;NA\n\n\
>Fungi;Ascomycota;Sordariomycetes;NA;NA;NA;NA\nTT\n",
        ),
    );
    let (meta, out) = run_ok(&spec(fasta));
    assert_eq!(meta.name, "ITS1_if-unite-insdc_fungi");
    assert_eq!(meta.marker, "ITS1");
    assert_eq!(
        out.ids(),
        vec![
            "ITS1_if-unite-insdc_fungi:1",
            "ITS1_if-unite-insdc_fungi:2",
            "ITS1_if-unite-insdc_fungi:4"
        ]
    );
    assert_eq!(out.reasons(), vec!["empty-sequence"]);
    assert_eq!(out.warnings[0].pos.line, 5);
    assert_eq!(out.records[0].name.as_deref(), Some("Russula sp"));
    assert_eq!(
        lineage_of(&out.records[2]),
        vec![
            ("kingdom", "Fungi"),
            ("phylum", "Ascomycota"),
            ("class", "Sordariomycetes")
        ]
    );
}

#[test]
fn qiime_table_missing_unused_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = write(
        dir.path(),
        "12S_mitohelper.fasta",
        b">AB006953\nACGT\n>KM879223\nGGTT\n>XX000001\nCCAA\n>AB006953\nTTTT\n",
    );
    let table = write(
        dir.path(),
        "tax.tsv",
        &gz(b"Feature ID\tTaxon\tConfidence\n\
AB006953\td__Eukaryota;p__Chordata;c__Actinopteri;o__Cypriniformes;f__Cyprinidae;g__Gymnocypris;s__Gymnocypris eckloni\t0.99\n\
KM879223\td__Eukaryota;p__Chordata\t0.5\n\
ZZ999999\td__Eukaryota\t1\n"),
    );
    let mut s = spec(fasta);
    s.taxonomy = Some(table.clone());
    let (meta, out) = run_ok(&s);
    assert_eq!(meta.marker, "12S");
    assert_eq!(meta.files.len(), 2);
    assert!(meta.files.contains(&table));
    assert_eq!(out.ids(), vec!["AB006953", "KM879223", "XX000001", "12S_mitohelper:4"]);
    assert_eq!(out.records[0].name.as_deref(), Some("Gymnocypris eckloni"));
    assert_eq!(out.records[0].lineage[0].rank, "domain");
    assert!(out.records[2].lineage.is_empty());
    // The duplicate keeps its lineage from the table.
    assert_eq!(out.records[3].lineage.len(), 7);
    let mut reasons = out.reasons();
    reasons.sort();
    assert_eq!(reasons, vec!["duplicate-id", "missing-taxonomy", "unused-taxonomy"]);
    let missing = out.warnings.iter().find(|w| w.reason == "missing-taxonomy").unwrap();
    assert_eq!(missing.pos.line, 5);
    assert!(missing.message.contains("XX000001"));
    let unused = out.warnings.iter().find(|w| w.reason == "unused-taxonomy").unwrap();
    assert!(unused.message.contains("ZZ999999"), "{}", unused.message);
}

#[test]
fn pr2_sibling_table_found() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = write(
        dir.path(),
        "18S_pr2_v5.0.1.fasta.gz",
        &gz(b">AB771798.1.1671_U\nACGT\n>AB771904.1.1576_U\nGGCC\n"),
    );
    write(
        dir.path(),
        "18S_pr2_v5.0.1.taxonomy.tsv.gz",
        &gz(b"pr2_accession\teukref_export_group\ttaxonomy\n\
AB771798.1.1671_U\tAlveolata_X\tEukaryota; TSAR; Alveolata; Alveolata_X; Alveolata_XX; Alveolata_XXX; Alveolata_XXXX; Alveolata_XXXXX; Alveolata_XXXXX_sp.\n\
AB771904.1.1576_U\tFungi\tEukaryota; Obazoa; Opisthokonta; Fungi; Basidiomycota; Agaricomycetes; Russulaceae; Russula; Russula_emetica\n"),
    );
    let (meta, out) = run_ok(&spec(fasta));
    assert_eq!(meta.marker, "18S");
    assert_eq!(meta.version.as_deref(), Some("5.0.1"));
    assert_eq!(meta.files.len(), 2);
    assert_eq!(
        lineage_of(&out.records[0]),
        vec![
            ("domain", "Eukaryota"),
            ("supergroup", "TSAR"),
            ("division", "Alveolata")
        ]
    );
    assert_eq!(out.records[1].lineage[8].rank, "species");
    assert_eq!(out.records[1].name.as_deref(), Some("Russula emetica"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[test]
fn bare_ids_without_table_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = write(dir.path(), "lib.fa", b">a\nAC\n>b\nGT\n");
    let (meta, out) = run_ok(&spec(fasta));
    assert_eq!(meta.marker, "unknown");
    assert_eq!(out.ids(), vec!["a", "b"]);
    assert_eq!(out.reasons(), vec!["missing-taxonomy"]);
}

#[test]
fn sintax_bold_rdp_scandi_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &[u8], HeaderStyle, &str, usize)> = vec![
        (
            "sintax_16S.fa",
            b">AB008314;tax=d:Bacteria,p:Firmicutes,c:Bacilli,o:Lactobacillales,f:Streptococcaceae,g:Streptococcus;\nACGT\n",
            HeaderStyle::Sintax,
            "AB008314",
            6,
        ),
        (
            "bold_COI.fa",
            b">CNKJE030-14|BOLD:AAR9768|Animalia;Arthropoda;Insecta;Diptera;Culicidae;Aedes;Aedes_aegypti\nACGT\n",
            HeaderStyle::Bold,
            "CNKJE030-14",
            7,
        ),
        (
            "rRNA16S.gold.fasta",
            b">7000004128189528\tAcidothermus cellulolyticus 11B, complete genome. \t7000004128189528|16s_rRNA|ATC1\tBacteria; Actinobacteria; Actinobacteria; Actinomycetales; Acidothermaceae; Acidothermus\nACGT\n",
            HeaderStyle::RdpTab,
            "7000004128189528",
            6,
        ),
        (
            "12S_ScandiFish_v1.4.fasta",
            b">Eukaryota;Chordata;Actinopteri;Stomiiformes;Gonostomatidae;Cyclothone;Cyclothone_braueri (LC091677.1)\nacgt\n",
            HeaderStyle::LineageAccession,
            "LC091677.1",
            7,
        ),
    ];
    for (name, content, style, id, depth) in cases {
        let fasta = write(dir.path(), name, content);
        let first = String::from_utf8_lossy(&content[1..content.len() - 6]).into_owned();
        assert_eq!(detect_style(&[first.as_str()], false), style, "{name}");
        let (_, out) = run_ok(&spec(fasta));
        assert_eq!(out.ids(), vec![id], "{name}");
        assert_eq!(out.records[0].lineage.len(), depth, "{name}");
        assert!(out.warnings.is_empty(), "{name}: {:?}", out.warnings);
    }
    let (meta, out) = run_ok(&spec(dir.path().join("bold_COI.fa")));
    assert_eq!(meta.marker, "COI");
    assert_eq!(out.records[0].name.as_deref(), Some("BOLD:AAR9768"));
    assert_eq!(out.records[0].accession.as_deref(), Some("CNKJE030-14"));
    let (meta, out) = run_ok(&spec(dir.path().join("12S_ScandiFish_v1.4.fasta")));
    assert_eq!(meta.version.as_deref(), Some("1.4"));
    // The sequence is passed through as read (lower case kept).
    assert_eq!(out.records[0].sequence, b"acgt");
}

#[test]
fn forced_style_and_name_marker() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = write(dir.path(), "x.fa", b">Fungi\nAC\n>Fungi\nGG\n");
    let mut s = spec(fasta);
    s.style = Some(HeaderStyle::Dada2);
    s.name = Some("mylib".to_string());
    s.marker = Some("ITS2".to_string());
    let (meta, out) = run_ok(&s);
    assert_eq!((meta.name.as_str(), meta.marker.as_str()), ("mylib", "ITS2"));
    assert_eq!(out.ids(), vec!["mylib:1", "mylib:2"]);
    assert_eq!(out.records[0].lineage[0].rank, "kingdom");
}

#[test]
fn refdb_package() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("refSeq-arc16s");
    std::fs::create_dir(&pkg).unwrap();
    write(&pkg, "metadata.yaml", b"title: Archaeal 16S Ribosomal RNA RefSeq Targeted Loci Project\ntargetGene: 16S rRNA\ntaxonRanks: domain;kingdom;subkingdom;phylum;class;order;family;genus;species\ndescription: |-\n  The small subunit.\nissued: '2026-02-01'\nversion: PRJNA33317\nlicence: CC-BY 4.0\n");
    write(&pkg, "data.tsv", b"ID\taccessionNumber\tscientificName\tdecimalLatitude\tdecimalLongitude\ttypeStatus\tcatalogueNumber\tidentifiedBy\ttaxonRank\tcountry\tlocality\tbasisOfRecord\thigherClassification\n\
NR_200027\tNR_200027\tMethanobrevibacter intestini Weinberger et al. 2025\t\t\tTYPE\t\t\tspecies\t\t\tmaterialSample\tArchaea;Methanobacteriati;Methanobacteriota;Methanomada group;Methanobacteria;Methanobacteriales;Methanobacteriaceae;Methanobrevibacter;Methanobrevibacter_intestini\n\
NR_199977\tNR_199977\tMethanosuratincola petrocarbonis Wu et al. 2025\t\t\tTYPE\t\t\tspecies\t\t\tmaterialSample\tArchaea;Thermoproteota;Methanosuratincolia;Methanosuratincolales;Methanosuratincolaceae;Methanosuratincola;Methanosuratincola_petrocarbonis\n\
NR_000001\tNR_000001\tX\t\t\t\t\t\tspecies\t\t\tmaterialSample\tArchaea\n");
    write(
        &pkg,
        "sequences.fasta",
        b">NR_200027\nGATAACC\n>NR_199977\nGGCA\n>NR_999999\nAAAA\n",
    );
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let meta = read_refdb(&pkg, None, None, &mut |r| records.push(r), &mut |w| warnings.push(w)).unwrap();
    assert_eq!(meta.name, "refSeq-arc16s");
    assert_eq!(meta.marker, "16S");
    assert_eq!(meta.version.as_deref(), Some("PRJNA33317"));
    assert_eq!(meta.licence.as_deref(), Some("CC-BY 4.0"));
    assert_eq!(meta.files.len(), 3);
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0].name.as_deref(),
        Some("Methanobrevibacter intestini Weinberger et al. 2025")
    );
    assert_eq!(records[0].accession.as_deref(), Some("NR_200027"));
    assert_eq!(lineage_of(&records[0])[3], ("class", "Methanobacteria"));
    assert_eq!(lineage_of(&records[1])[1], ("phylum", "Thermoproteota"));
    let mut reasons: Vec<_> = warnings.iter().map(|w| w.reason).collect();
    reasons.sort();
    assert_eq!(reasons, vec!["missing-taxonomy", "unused-taxonomy"]);

    // read_library on the folder does the same.
    let (meta2, out) = run_ok(&spec(pkg.clone()));
    assert_eq!(meta2, meta);
    assert_eq!(out.records.len(), 3);

    std::fs::remove_file(pkg.join("data.tsv")).unwrap();
    let e = run(&spec(pkg)).err().unwrap();
    assert!(matches!(e, ReferenceError::Missing { .. }));
    assert!(e.to_string().contains("data.tsv: not found"), "{e}");
}

#[test]
fn meta_fish_lib_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "multi_meta-fish-lib_master.csv.gz",
        &gz(b"source,dbid,gbAccession,sciNameValid,subphylum,class,order,family,genus,notes,nucleotides\n\
BOLD,EHSI155-06.COI-5P,,Acipenser ruthenus,Vertebrata,Actinopterygii,Acipenseriformes,Acipenseridae,Acipenser,\"a, b\",cctgtattta\n\
GENBANK,,KX123456,Salmo trutta,Vertebrata,Actinopterygii,Salmoniformes,Salmonidae,Salmo,,ACGT\n\
GENBANK,X1,,Salmo salar,Vertebrata,Actinopterygii,Salmoniformes,Salmonidae,Salmo,,\n"),
    );
    let (meta, out) = run_ok(&spec(csv));
    assert_eq!(meta.name, "multi_meta-fish-lib_master");
    assert_eq!(out.ids(), vec!["EHSI155-06.COI-5P", "KX123456"]);
    assert_eq!(out.records[0].sequence, b"cctgtattta");
    assert_eq!(out.records[0].name.as_deref(), Some("Acipenser ruthenus"));
    assert_eq!(out.records[1].accession.as_deref(), Some("KX123456"));
    assert_eq!(
        lineage_of(&out.records[1]),
        vec![
            ("class", "Actinopterygii"),
            ("order", "Salmoniformes"),
            ("family", "Salmonidae"),
            ("genus", "Salmo"),
            ("species", "Salmo trutta")
        ]
    );
    assert_eq!(out.reasons(), vec!["empty-sequence"]);
    assert_eq!(out.warnings[0].pos.line, 4);

    let bad = write(dir.path(), "other.csv", b"a,b\n1,2\n");
    let e = run(&spec(bad)).err().unwrap();
    assert!(e.to_string().contains("nucleotides"), "{e}");
}

#[test]
fn errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // Missing FASTA.
    let e = run(&spec(dir.path().join("nope.fasta"))).err().unwrap();
    assert!(e.to_string().contains("nope.fasta"), "{e}");
    assert!(e.to_string().contains("cannot open"), "{e}");

    // Sequence before the first header.
    let f = write(dir.path(), "bad.fa", b"ACGT\n>a\nAC\n");
    let e = run(&spec(f)).err().unwrap();
    assert!(e.to_string().contains("bad.fa line 1"), "{e}");

    // A taxonomy table that is not a TSV.
    let f = write(dir.path(), "ok.fa", b">a\nAC\n");
    let t = write(dir.path(), "tax.csv", b"id,taxonomy\na,Fungi\n");
    let mut s = spec(f.clone());
    s.taxonomy = Some(t);
    let e = run(&s).err().unwrap();
    assert!(e.to_string().contains("tax.csv line 1"), "{e}");

    // A truncated gzip taxonomy table.
    let mut rows = b"Feature ID\tTaxon\n".to_vec();
    for i in 0..5000 {
        rows.extend_from_slice(format!("id{i}\tk__Fungi;p__Ascomycota{i}\n").as_bytes());
    }
    let z = gz(&rows);
    let t = write(dir.path(), "cut.tsv.gz", &z[..z.len() / 2]);
    s.taxonomy = Some(t);
    let e = run(&s).err().unwrap();
    assert!(e.to_string().contains("truncated gzip"), "{e}");
    assert!(e.to_string().contains("cut.tsv.gz"), "{e}");

    // A truncated gzip FASTA.
    let mut fa = Vec::new();
    for i in 0..5000 {
        fa.extend_from_slice(format!(">r{i}\nACGTACGGATCGA{i}\n").as_bytes());
    }
    let z = gz(&fa);
    let f = write(dir.path(), "cut.fa.gz", &z[..z.len() / 2]);
    let mut n = 0;
    let e = read_library(&spec(f), &mut |_| n += 1, &mut |_| {}).err().unwrap();
    assert!(n > 0);
    assert!(e.to_string().contains("truncated gzip"), "{e}");
}

#[test]
fn meta_inference() {
    assert_eq!(infer_marker("12S_mitohelper_derep_uniq"), Some("12S"));
    assert_eq!(infer_marker("16S_rRNA16S_gold_microbiomeutil"), Some("16S"));
    assert_eq!(infer_marker("refSeq-oomycITS"), Some("ITS"));
    assert_eq!(infer_marker("refSeq-bac5s"), Some("5S"));
    assert_eq!(infer_marker("bold_co1_2024"), Some("COI"));
    assert_eq!(infer_marker("diat_rbcL"), Some("rbcL"));
    assert_eq!(infer_marker("multi_meta-fish-lib"), None);
    assert_eq!(marker_from_text("23S rRNA"), "23S");
    assert_eq!(marker_from_text("matK"), "matK");
    assert_eq!(
        version_from_name("18S_pr2_v5.0.1_eukref2023_exports").as_deref(),
        Some("5.0.1")
    );
    assert_eq!(version_from_name("12S_ScandiFish_v1.4").as_deref(), Some("1.4"));
    assert_eq!(version_from_name("dev3_lib"), None);
    assert_eq!(version_from_name("lib_v2"), Some("2".to_string()));
    assert_eq!(file_stem(Path::new("/a/b/x.fasta.gz")), "x");
    assert_eq!(file_stem(Path::new("x.FA")), "x");
}

/// All libraries under /work/shared/data/references (not in CI):
/// `cargo test --release -p edna-index-builder real_reference_libraries -- --ignored --nocapture`.
#[test]
#[ignore]
fn real_reference_libraries() {
    use std::collections::BTreeMap;
    let root = Path::new("/work/shared/data/references");
    let mut specs: Vec<LibrarySpec> = Vec::new();
    for name in [
        "12S_mitohelper_derep_uniq.fasta.gz",
        "ITS1_if-unite-insdc_fungi.fasta.gz",
        "ITS2_if-unite-insdc_fungi.fasta.gz",
        "18S_pr2_v5.0.1_eukref2023_exports.fasta.gz",
        "16S_rRNA16S_gold_microbiomeutil.fasta.gz",
        "12S_ScandiFish_v1.4.fasta",
        "multi_meta-fish-lib_2021-01-07_master.csv.gz",
    ] {
        specs.push(spec(root.join(name)));
    }
    let mut pkgs: Vec<PathBuf> = std::fs::read_dir(root.join("gbif_refdb_format"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    pkgs.sort();
    specs.extend(pkgs.into_iter().map(spec));

    let all = std::time::Instant::now();
    let mut total = 0usize;
    for s in &specs {
        let t = std::time::Instant::now();
        let mut n = 0usize;
        let mut bases = 0usize;
        let mut depth: BTreeMap<usize, usize> = BTreeMap::new();
        let mut ranks: BTreeMap<String, usize> = BTreeMap::new();
        let mut example = None;
        let mut odd: Vec<String> = Vec::new();
        let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut first_warnings: Vec<String> = Vec::new();
        let style = if s.fasta.is_file() && !is_csv(&s.fasta) {
            let mut r = Reader::from_path(&s.fasta).unwrap();
            let hs: Vec<String> = (0..DETECT_HEADERS)
                .map_while(|_| r.next_record())
                .map(|r| full_header(&r.unwrap()))
                .collect();
            let refs: Vec<&str> = hs.iter().map(String::as_str).collect();
            format!("{:?}", detect_style(&refs, false))
        } else {
            "-".to_string()
        };
        let meta = read_library(
            s,
            &mut |r| {
                n += 1;
                bases += r.sequence.len();
                *depth.entry(r.lineage.len()).or_default() += 1;
                for x in &r.lineage {
                    *ranks.entry(x.rank.clone()).or_default() += 1;
                }
                if r.lineage.len() < 6 && odd.len() < 3 {
                    odd.push(format!("{} {:?}", r.id, lineage_of(&r)));
                }
                if n == 1 {
                    example = Some(format!(
                        "{} name={:?} acc={:?} {:?}",
                        r.id,
                        r.name,
                        r.accession,
                        lineage_of(&r)
                    ));
                }
            },
            &mut |w| {
                *reasons.entry(w.reason).or_default() += 1;
                if first_warnings.len() < 2 {
                    first_warnings.push(format!("{}: {} {}", w.pos, w.reason, w.message));
                }
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        total += n;
        println!(
            "{:<48} style={style:<16} marker={:<5} version={:?} records={n} bases={bases} time={:.2}s",
            meta.name,
            meta.marker,
            meta.version,
            t.elapsed().as_secs_f64()
        );
        println!("    warnings={reasons:?}");
        for w in &first_warnings {
            println!("    e.g. {w}");
        }
        println!("    lineage depth={depth:?}");
        println!("    ranks={ranks:?}");
        println!("    first: {}", example.unwrap_or_default());
        for o in &odd {
            println!("    short: {o}");
        }
        assert!(n > 0);
    }
    println!("TOTAL {total} records in {:.2}s", all.elapsed().as_secs_f64());
}
