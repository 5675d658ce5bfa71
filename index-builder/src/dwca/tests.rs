//! Tests of the DwC-A readers on tiny archives built on the fly (no dependency on /work/shared).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::*;
use crate::model::{DatasetMeta, OccurrenceRecord, Warning};

/// Everything a reader reported.
#[derive(Debug, Default)]
struct Collect {
    datasets: Vec<DatasetMeta>,
    /// (dataset index, record)
    occ: Vec<(usize, OccurrenceRecord)>,
    warnings: Vec<Warning>,
}

impl DwcaSink for Collect {
    fn dataset(&mut self, meta: DatasetMeta) {
        self.datasets.push(meta);
    }
    fn occurrence(&mut self, record: OccurrenceRecord) {
        self.occ.push((self.datasets.len().saturating_sub(1), record));
    }
    fn warning(&mut self, warning: Warning) {
        self.warnings.push(warning);
    }
}

impl Collect {
    fn occ(&self, id: &str) -> &OccurrenceRecord {
        match self.occ.iter().find(|(_, o)| o.occurrence_id == id) {
            Some((_, o)) => o,
            None => panic!("no occurrence {id} in {:#?}", self.occ),
        }
    }
    fn reasons(&self) -> Vec<&'static str> {
        self.warnings.iter().map(|w| w.reason).collect()
    }
    fn warning(&self, reason: &str) -> &Warning {
        match self.warnings.iter().find(|w| w.reason == reason) {
            Some(w) => w,
            None => panic!("no {reason} warning in {:#?}", self.warnings),
        }
    }
}

fn read(path: &Path) -> Result<Collect, DwcaError> {
    read_with(path, &ArchiveLimits::default())
}

fn read_with(path: &Path, limits: &ArchiveLimits) -> Result<Collect, DwcaError> {
    let mut c = Collect::default();
    read_dwca(path, limits, &mut c)?;
    Ok(c)
}

fn read_ok(path: &Path) -> Collect {
    match read(path) {
        Ok(c) => c,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(&p, bytes).expect("write");
    p
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).expect("gz");
    e.finish().expect("gz")
}

fn zip_bytes(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in members {
        w.start_file(*name, opts).expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// Occurrence core + DNA extension: tab-separated, `default=` values, the w3id MIxS form, two DNA rows for
/// occ1, an orphan DNA row and an occurrence without DNA.
const META_OCC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
  <core encoding="UTF-8" fieldsTerminatedBy="\t" linesTerminatedBy="\n" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">
    <files><location>occurrence.txt</location></files>
    <id index="0"/>
    <field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>
    <field index="1" term="http://rs.tdwg.org/dwc/terms/decimalLatitude"/>
    <field index="2" term="http://rs.tdwg.org/dwc/terms/decimalLongitude"/>
    <field index="3" term="http://rs.tdwg.org/dwc/terms/eventDate"/>
    <field index="4" term="http://rs.tdwg.org/dwc/terms/scientificName"/>
    <field index="5" term="http://rs.tdwg.org/dwc/terms/kingdom"/>
    <field index="6" term="http://rs.tdwg.org/dwc/terms/organismQuantity"/>
    <field default="MATERIAL_SAMPLE" term="http://rs.tdwg.org/dwc/terms/basisOfRecord"/>
    <field index="7" default="DE" term="http://rs.tdwg.org/dwc/terms/countryCode"/>
  </core>
  <extension encoding="UTF-8" fieldsTerminatedBy="\t" linesTerminatedBy="\n" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="http://rs.gbif.org/terms/1.0/DNADerivedData">
    <files><location>dna.txt</location></files>
    <coreid index="0"/>
    <field index="1" term="http://rs.gbif.org/terms/dna_sequence"/>
    <field default="ITS2" term="https://w3id.org/mixs/0000044"/>
    <field index="2" term="https://w3id.org/mixs/0000045"/>
    <field default="GTGARTCATCGARTCTTTG" term="http://rs.gbif.org/terms/pcr_primer_forward"/>
    <field default="gITS7" term="http://rs.gbif.org/terms/pcr_primer_name_forward"/>
  </extension>
  <extension rowType="http://rs.iobis.org/obis/terms/ExtendedMeasurementOrFact">
    <files><location>emof.txt</location></files>
    <coreid index="0"/>
  </extension>
</archive>"#;

const OCC_TXT: &str = "occurrenceID\tlat\tlon\tdate\tname\tkingdom\tqty\tcc\n\
occ1\t57.5\t10.1\t2014-11-18\tHygrocybe acutoconica\tk__Fungi\t100\t\n\
occ2\t95\t10.1\t2014-11-18\tBoletus\tFungi\t3\tNO\n\
occ3\t57.5\t10.1\t2014-11-18\tNo dna\tFungi\t3\tNO\n";

const DNA_TXT: &str = "id\tseq\tsub\n\
occ1\tAATCATCAATGAGGACC\tITS2a\n\
occ1\tGGTTCAATGAGGACC\t\n\
occ2\tCCCCAATGAGG\t\n\
ghost\tTTTTTTTT\t\n";

const EML: &str = r#"<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1" packageId="pkg-1">
<dataset><alternateIdentifier>doi:10.1234/abc</alternateIdentifier><title>Soil fungi</title>
<intellectualRights><para><ulink url="http://creativecommons.org/licenses/by/4.0/legalcode"><citetitle>CC-BY</citetitle></ulink></para></intellectualRights>
</dataset></eml:eml>"#;

fn check_occurrence_archive(c: &Collect) {
    assert_eq!(c.datasets.len(), 1);
    let d = &c.datasets[0];
    assert_eq!(d.key, "doi:10.1234/abc");
    assert_eq!(d.title, "Soil fungi");
    assert_eq!(
        d.licence.as_deref(),
        Some("http://creativecommons.org/licenses/by/4.0/legalcode")
    );
    assert_eq!(c.occ.len(), 2, "{:#?}", c.occ);
    let o1 = c.occ("occ1");
    assert_eq!(o1.decimal_latitude, Some(57.5));
    assert_eq!(o1.event_date.as_deref(), Some("2014-11-18"));
    assert_eq!(o1.basis_of_record.as_deref(), Some("MATERIAL_SAMPLE"));
    // Empty column → default.
    assert_eq!(o1.country_code.as_deref(), Some("DE"));
    assert_eq!(o1.organism_quantity, Some(100.0));
    assert_eq!(o1.lineage.len(), 1);
    assert_eq!(o1.lineage[0].name, "Fungi");
    assert_eq!(o1.dna.len(), 2);
    assert_eq!(o1.dna[0].sequence, "AATCATCAATGAGGACC");
    assert_eq!(o1.dna[0].target_gene.as_deref(), Some("ITS2"));
    assert_eq!(o1.dna[0].target_subfragment.as_deref(), Some("ITS2a"));
    assert_eq!(o1.dna[1].target_subfragment, None);
    assert_eq!(o1.dna[0].pcr_primer_forward.as_deref(), Some("GTGARTCATCGARTCTTTG"));
    assert_eq!(o1.dna[0].pcr_primer_name_forward.as_deref(), Some("gITS7"));
    assert_eq!(o1.dna[1].pos.line, 3);
    assert_eq!(o1.pos.line, 2);
    let o2 = c.occ("occ2");
    assert_eq!(o2.country_code.as_deref(), Some("NO"));
    assert_eq!(o2.decimal_latitude, None, "latitude 95 is out of range");
    let mut reasons = c.reasons();
    reasons.sort();
    assert_eq!(
        reasons,
        vec!["bad-coordinate", "missing-file", "no-dna", "orphan-dna-row"]
    );
    assert!(c.warning("no-dna").message.starts_with("1 occurrence"));
    assert_eq!(c.warning("orphan-dna-row").pos.line, 5);
    assert_eq!(c.warning("bad-coordinate").pos.line, 3);
}

#[test]
fn dwca_zip_archive() {
    let t = tmp();
    let z = zip_bytes(&[
        ("meta.xml", META_OCC.as_bytes()),
        ("occurrence.txt", OCC_TXT.as_bytes()),
        ("dna.txt", DNA_TXT.as_bytes()),
        ("eml.xml", EML.as_bytes()),
    ]);
    let p = write(t.path(), "a.zip", &z);
    let c = read_ok(&p);
    check_occurrence_archive(&c);
    assert!(c.occ[0].1.pos.file.ends_with("a.zip!/occurrence.txt"));
}

#[test]
fn dwca_zip_single_top_folder() {
    let t = tmp();
    let z = zip_bytes(&[
        ("export/meta.xml", META_OCC.as_bytes()),
        ("export/occurrence.txt", OCC_TXT.as_bytes()),
        ("export/dna.txt", DNA_TXT.as_bytes()),
        ("export/eml.xml", EML.as_bytes()),
        ("__MACOSX/export/._meta.xml", b"junk"),
    ]);
    let p = write(t.path(), "b.zip", &z);
    check_occurrence_archive(&read_ok(&p));
}

#[test]
fn dwca_unpacked_dir() {
    let t = tmp();
    let d = t.path().join("unpacked");
    write(&d, "meta.xml", META_OCC.as_bytes());
    write(&d, "occurrence.txt", OCC_TXT.as_bytes());
    write(&d, "dna.txt", DNA_TXT.as_bytes());
    write(&d, "eml.xml", EML.as_bytes());
    // A zip next to meta.xml (like per-leg copies) is not read.
    write(&d, "copy.zip", b"PK\x03\x04 not even a zip");
    check_occurrence_archive(&read_ok(&d));
}

/// Quoted CSV with a BOM, the gensc MIXS URI form, a licence only in a column, no eml, 1-based indexes.
const META_CSV: &str = r#"<archive xmlns="http://rs.tdwg.org/dwc/text/">
  <core encoding="UTF-8" fieldsTerminatedBy="," linesTerminatedBy="\r\n" fieldsEnclosedBy="&quot;" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">
    <files><location>occ.csv</location></files>
    <id index="0"/>
    <field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>
    <field index="1" term="http://rs.tdwg.org/dwc/terms/locality"/>
    <field index="2" term="http://rs.tdwg.org/dwc/terms/license"/>
  </core>
  <extension encoding="UTF-8" fieldsTerminatedBy="," fieldsEnclosedBy='"' ignoreHeaderLines="1" rowType="http://rs.gbif.org/terms/1.0/DNADerivedData">
    <files><location>dna.csv</location></files>
    <coreid index="0"/>
    <field index="1" term="http://rs.gbif.org/terms/1.0/DNA_sequence"/>
    <field index="2" term="https://w3id.org/gensc/terms/MIXS:0000044"/>
    <field index="3" term="https://w3id.org/gensc/terms/MIXS:0000046"/>
  </extension>
</archive>"#;

#[test]
fn dwca_bom_quoted_csv_and_gensc_terms() {
    let t = tmp();
    let d = t.path().join("csv");
    write(&d, "meta.xml", META_CSV.as_bytes());
    write(
        &d,
        "occ.csv",
        b"\xEF\xBB\xBFoccurrenceID,locality,license\r\n\
\"o,1\",\"Gulf, \"\"north\"\"\",CC0 1.0\r\n\
o2,\"two\r\nlines\",CC0 1.0\r\n\
\"o3\"x,bad,CC0 1.0\r\n\
o4\r\n",
    );
    write(
        &d,
        "dna.csv",
        b"\xEF\xBB\xBFoccurrenceID,DNA_sequence,target_gene,pcr_primers\r\n\
\"o,1\",ACGTACGT,\"12S rRNA\",FWD:GTCG;REV:CATA\r\n\
o2,GGGGCCCC,12S,\r\n\
o4,TTTT,12S,\r\n",
    );
    let c = read_ok(&d);
    assert_eq!(c.datasets[0].key, "csv");
    assert_eq!(c.datasets[0].title, "csv");
    assert_eq!(c.datasets[0].licence.as_deref(), Some("CC0 1.0"));
    let o1 = c.occ("o,1");
    assert_eq!(o1.locality.as_deref(), Some("Gulf, \"north\""));
    assert_eq!(o1.dna[0].target_gene.as_deref(), Some("12S rRNA"));
    assert_eq!(o1.dna[0].pcr_primer_forward.as_deref(), Some("GTCG"));
    assert_eq!(o1.dna[0].pcr_primer_reverse.as_deref(), Some("CATA"));
    assert_eq!(c.occ("o2").locality.as_deref(), Some("two\nlines"));
    assert_eq!(c.occ.len(), 2);
    let q = c.warning("csv-quoting");
    assert!(q.pos.file.ends_with("occ.csv"), "{}", q.pos);
    assert_eq!(q.pos.line, 5);
    assert_eq!(q.pos.to_string(), format!("{}:5", q.pos.file));
    let s = c.warning("short-row");
    assert_eq!(s.pos.line, 6);
    assert!(c.reasons().contains(&"orphan-dna-row"));
}

#[test]
fn dwca_one_based_meta_indexes_are_corrected() {
    // Like OBON's Aldabra archive: indexes count from 1 against the header.
    let meta = r#"<archive><core fieldsTerminatedBy="\t" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">
<files><location>o.txt</location></files><id index="3"/>
<field index="1" term="http://rs.tdwg.org/dwc/terms/eventID"/>
<field index="2" term="http://rs.tdwg.org/dwc/terms/eventDate"/>
<field index="3" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>
</core>
<extension fieldsTerminatedBy="\t" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="http://rs.gbif.org/terms/1.0/DNADerivedData">
<files><location>d.txt</location></files><coreid index="1"/>
<field index="2" term="http://data.ggbn.org/schemas/ggbn/terms/concentration"/>
<field index="3" term="http://rs.gbif.org/terms/dna_sequence"/>
</extension></archive>"#;
    let t = tmp();
    let d = t.path().join("shifted");
    write(&d, "meta.xml", meta.as_bytes());
    write(&d, "o.txt", b"eventID\teventDate\toccurrenceID\nE1\t2023-04-02\tO1\n");
    write(
        &d,
        "d.txt",
        b"occurrenceID\tconcentration\tDNA_sequence\nO1\t7.2\tACGTTGCA\n",
    );
    let c = read_ok(&d);
    assert_eq!(c.occ.len(), 1);
    let o = c.occ("O1");
    assert_eq!(o.event_date.as_deref(), Some("2023-04-02"));
    assert_eq!(o.dna[0].sequence, "ACGTTGCA");
    assert_eq!(c.reasons(), vec!["meta-index-shift", "meta-index-shift"]);
}

/// Event core with an Occurrence extension and a DNA extension keyed by event (no occurrenceID column).
const META_EVENT: &str = r#"<archive xmlns="http://rs.tdwg.org/dwc/text/">
  <core fieldsTerminatedBy="\t" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Event">
    <files><location>event.txt</location></files>
    <id index="0"/>
    <field index="0" term="http://rs.tdwg.org/dwc/terms/eventID"/>
    <field index="1" term="http://rs.tdwg.org/dwc/terms/parentEventID"/>
    <field index="2" term="http://rs.tdwg.org/dwc/terms/eventDate"/>
    <field index="3" term="http://rs.tdwg.org/dwc/terms/decimalLatitude"/>
    <field index="4" term="http://rs.tdwg.org/dwc/terms/decimalLongitude"/>
    <field index="5" term="http://rs.tdwg.org/dwc/terms/countryCode"/>
  </core>
  <extension fieldsTerminatedBy="\t" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">
    <files><location>occurrence.txt</location></files>
    <coreid index="0"/>
    <field index="1" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>
    <field index="2" term="http://rs.tdwg.org/dwc/terms/scientificName"/>
    <field index="3" term="http://rs.tdwg.org/dwc/terms/eventDate"/>
  </extension>
  <extension fieldsTerminatedBy="\t" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="http://rs.gbif.org/terms/1.0/DNADerivedData">
    <files><location>dna.txt</location></files>
    <coreid index="0"/>
    <field index="1" term="http://rs.gbif.org/terms/dna_sequence"/>
    <field index="2" term="http://gensc.org/ns/mixs/target_gene"/>
    OCCID
  </extension>
</archive>"#;

#[test]
fn dwca_event_core_attaches_event_dna() {
    let t = tmp();
    let d = t.path().join("ev");
    write(&d, "meta.xml", META_EVENT.replace("OCCID", "").as_bytes());
    write(
        &d,
        "event.txt",
        b"eventID\tparent\tdate\tlat\tlon\tcc\nCRUISE\t\t2019-07\t\t\tUS\nS1\tCRUISE\t2019-07-06\t28.6\t-85.7\t\nS2\tCRUISE\t\t\t\t\n",
    );
    write(
        &d,
        "occurrence.txt",
        b"eventID\toccurrenceID\tname\tdate\nS1\tS1:a\tGadus\t\nS1\tS1:b\tSalmo\t2019-07-07\nS2\tS2:a\tEsox\t\n",
    );
    write(
        &d,
        "dna.txt",
        b"eventID\tseq\tgene\nS1\tACGTACGT\t12S\nS1\tGGGGACGT\t12S\nS3\tTTTTACGT\t12S\n",
    );
    let c = read_ok(&d);
    assert_eq!(c.occ.len(), 2, "S2 has no DNA");
    let a = c.occ("S1:a");
    assert_eq!(a.event_date.as_deref(), Some("2019-07-06"));
    assert_eq!(a.decimal_latitude, Some(28.6));
    assert_eq!(a.country_code.as_deref(), Some("US"), "from the parent event");
    assert_eq!(a.dna.len(), 2);
    assert_eq!(a.dna[0].target_gene.as_deref(), Some("12S"));
    let b = c.occ("S1:b");
    assert_eq!(b.event_date.as_deref(), Some("2019-07-07"), "own value kept");
    assert_eq!(b.dna.len(), 2);
    let mut reasons = c.reasons();
    reasons.sort();
    assert_eq!(reasons, vec!["no-dna", "orphan-dna-row"]);
}

#[test]
fn dwca_event_core_dna_with_occurrence_id() {
    let t = tmp();
    let d = t.path().join("ev2");
    let meta = META_EVENT.replace(
        "OCCID",
        r#"<field index="3" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/>"#,
    );
    write(&d, "meta.xml", meta.as_bytes());
    write(
        &d,
        "event.txt",
        b"eventID\tparent\tdate\tlat\tlon\tcc\nS1\t\t2019-07-06\t28.6\t-85.7\tUS\n",
    );
    write(
        &d,
        "occurrence.txt",
        b"eventID\toccurrenceID\tname\tdate\nS1\tS1:a\tGadus\t\nS1\tS1:b\tSalmo\t\n",
    );
    write(
        &d,
        "dna.txt",
        b"eventID\tseq\tgene\toccurrenceID\nS1\tACGTACGT\t12S\tS1:a\nS1\tGGGGACGT\t12S\tS1:b\nS1\tCCCCACGT\t12S\tS1:b\n",
    );
    let c = read_ok(&d);
    assert_eq!(c.occ("S1:a").dna.len(), 1);
    assert_eq!(c.occ("S1:b").dna.len(), 2);
    assert_eq!(c.occ("S1:b").dna[1].sequence, "CCCCACGT");
    assert!(c.warnings.is_empty(), "{:#?}", c.warnings);
}

#[test]
fn dwca_table_folder_with_asv_taxonomy() {
    let t = tmp();
    let d = t.path().join("run1");
    write(
        &d,
        "Occurrence_table.tsv",
        b"organismQuantity\tscientificName\ttaxonRank\toccurrenceID\tmaterialSampleID\n\
12\tGadus morhua\tspecies\tasv.1_S1\tS1\n\
5\t\t\tasv.2_S1\tS1\n\
5\tNo dna\t\tasv.9_S1\tS1\n\
7\tGadus morhua\tspecies\tasv.1_S1\tS1\n",
    );
    write(
        &d,
        "DNA_extension_table.tsv.gz",
        &gz(b"target_gene\tDNA_sequence\toccurrenceID\n12S\tACGTACGTAA\tasv.1_S1\n12S\tggggccccaa\tasv.2_S1\n12S\t\tasv.3_S1\n"),
    );
    // R row names: one header name fewer than fields.
    write(
        &d,
        "Full_tax_table_with_lsids.tsv.gz",
        &gz(
            b"superkingdom\tphylum\tgenus\tspecies\tscientificName\ttaxonRank\tDNA_sequence\n\
asv.1\tEukaryota\tChordata\tGadus\tGadus_morhua\tGadus morhua\tspecies\tACGTACGTAA\n\
asv.2\tEukaryota\tChordata\tClupea\t\tClupea\tgenus\tGGGGCCCCAA\n",
        ),
    );
    write(&d, "README.txt", b"just notes, not a table\n");
    let c = read_ok(&d);
    assert_eq!(c.datasets[0].key, "run1");
    assert_eq!(c.occ.len(), 2);
    let a2 = c.occ("asv.2_S1");
    assert_eq!(a2.scientific_name.as_deref(), Some("Clupea"));
    assert_eq!(a2.taxon_rank.as_deref(), Some("genus"));
    let ranks: Vec<_> = a2.lineage.iter().map(|r| (r.rank.as_str(), r.name.as_str())).collect();
    assert_eq!(
        ranks,
        vec![("domain", "Eukaryota"), ("phylum", "Chordata"), ("genus", "Clupea")]
    );
    assert_eq!(c.occ("asv.1_S1").organism_quantity, Some(12.0));
    let mut reasons = c.reasons();
    reasons.sort();
    assert_eq!(reasons, vec!["duplicate-occurrence-id", "empty-sequence", "no-dna"]);
    assert_eq!(c.warning("duplicate-occurrence-id").pos.line, 5);
    assert_eq!(c.warning("empty-sequence").pos.line, 4);
}

#[test]
fn dwca_dna_only_folder_and_walk() {
    let t = tmp();
    let root = t.path().join("expeditions");
    write(
        &root,
        "runs/b__B/DNA_extension_table.tsv",
        b"DNA_sequence\toccurrenceID\nACGT\tx1\nGGCC\tx2\nTTAA\tx2\n",
    );
    write(
        &root,
        "runs/a__A/dna.csv",
        b"occurrenceID,DNA_sequence,target_gene\r\ny1,ACGTAC,COI\r\n",
    );
    write(
        &root,
        "catalog/c__C/Full_tax_table_with_lsids.tsv",
        b"genus\tDNA_sequence\nasv.1\tGadus\tACGT\n",
    );
    write(&root, "index.tsv", b"batch\trun\nb1\tr1\n");
    let c = read_ok(&root);
    let keys: Vec<&str> = c.datasets.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, vec!["expeditions/runs/a__A", "expeditions/runs/b__B"]);
    assert_eq!(c.datasets[1].title, "b__B");
    assert_eq!(c.occ.len(), 3);
    let x2 = c.occ("x2");
    assert_eq!(x2.dna.len(), 2);
    assert_eq!(x2.pos.line, 3);
    assert_eq!(c.occ("y1").dna[0].target_gene.as_deref(), Some("COI"));
    assert_eq!(c.occ[0].0, 0);
    assert_eq!(c.reasons(), vec!["asv-catalog-only"]);
    // An ASV-only folder read directly is not an error either.
    let c = read_ok(&root.join("catalog/c__C"));
    assert!(c.datasets.is_empty());
}

#[test]
fn dwca_gbif_fasta_download() {
    let t = tmp();
    let fasta = b">5d6b1c9e|4011223344|COI\nACGTACGT\nACGT\n>9f0e|4011223344|COI\nGGGGCCCC\n>abc|4011223355|\nTTTT\n>bad header\nACGT\n>x|4011223366|12S\n\n";
    let p = write(t.path(), "download.fasta", fasta);
    let c = read_ok(&p);
    assert_eq!(c.datasets[0].key, "download.fasta");
    assert_eq!(c.occ.len(), 2);
    let o = c.occ("4011223344");
    assert_eq!(o.dna.len(), 2, "consecutive records of one gbifID");
    assert_eq!(o.dna[0].sequence, "ACGTACGTACGT");
    assert_eq!(o.dna[0].target_gene.as_deref(), Some("COI"));
    assert_eq!(c.occ("4011223355").dna[0].target_gene, None);
    let mut reasons = c.reasons();
    reasons.sort();
    assert_eq!(reasons, vec!["empty-sequence", "fasta-header"]);
    assert_eq!(c.warning("fasta-header").pos.line, 8);
    // Gzipped, inside a walked folder.
    let d = t.path().join("dl");
    write(&d, "0001-seq.fasta.gz", &gz(fasta));
    write(&d, "refs.fa", b">ref1 Gadus\nACGT\n");
    let c = read_ok(&d);
    assert_eq!(c.datasets[0].key, "dl/0001-seq.fasta.gz");
    assert_eq!(c.occ.len(), 2);
    assert!(c.reasons().contains(&"not-gbif-fasta"));
}

#[test]
fn dwca_zip_path_traversal_refused() {
    let t = tmp();
    for evil in ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt"] {
        let z = zip_bytes(&[("meta.xml", META_OCC.as_bytes()), (evil, b"x")]);
        let p = write(t.path(), "evil.zip", &z);
        match read(&p) {
            Err(DwcaError::PathTraversal { entry, .. }) => assert_eq!(entry, evil),
            other => panic!("{evil}: {other:?}"),
        }
    }
}

#[test]
fn dwca_zip_bomb_caps() {
    let t = tmp();
    let zeros = vec![b'0'; 8 << 20];
    let z = zip_bytes(&[
        ("meta.xml", META_OCC.as_bytes()),
        ("occurrence.txt", &zeros),
        ("dna.txt", DNA_TXT.as_bytes()),
    ]);
    let p = write(t.path(), "bomb.zip", &z);
    let err = read(&p).expect_err("ratio cap");
    assert!(
        matches!(
            err,
            DwcaError::LimitExceeded {
                what: "compression ratio",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("bomb.zip"), "{err}");
    let small = ArchiveLimits {
        max_uncompressed_bytes: 1000,
        ..ArchiveLimits::default()
    };
    let z = zip_bytes(&[
        ("meta.xml", META_OCC.as_bytes()),
        ("occurrence.txt", OCC_TXT.as_bytes()),
        ("dna.txt", DNA_TXT.as_bytes()),
    ]);
    let p = write(t.path(), "big.zip", &z);
    let err = read_with(&p, &small).expect_err("size cap");
    assert!(matches!(err, DwcaError::LimitExceeded { .. }), "{err}");
    let few = ArchiveLimits {
        max_entries: 2,
        ..ArchiveLimits::default()
    };
    let err = read_with(&p, &few).expect_err("entry cap");
    assert!(
        matches!(
            err,
            DwcaError::LimitExceeded {
                what: "entry count",
                ..
            }
        ),
        "{err}"
    );
    // A gzip table that inflates too far is caught while streaming.
    let d = t.path().join("gzbomb");
    write(
        &d,
        "dna.tsv.gz",
        &gz(&[b"DNA_sequence\toccurrenceID\n".as_slice(), &zeros].concat()),
    );
    let err = read(&d).expect_err("gzip ratio");
    assert!(matches!(err, DwcaError::LimitExceeded { .. }), "{err}");
}

#[test]
fn dwca_not_a_zip() {
    let t = tmp();
    let p = write(t.path(), "fake.zip", b"PK\x03\x04 this is not really a zip");
    assert!(matches!(read(&p), Err(DwcaError::NotZip { .. })));
    let p = write(t.path(), "notes.pdf", b"%PDF-1.4");
    let err = read(&p).expect_err("not a zip");
    assert!(matches!(err, DwcaError::NotZip { .. }), "{err}");
    assert!(err.to_string().contains("notes.pdf"));
    let z = zip_bytes(&[("readme.md", b"hello".as_slice())]);
    let p = write(t.path(), "other.zip", &z);
    assert!(matches!(read(&p), Err(DwcaError::NoTable { .. })));
}

#[test]
fn dwca_meta_missing_file_and_column() {
    let t = tmp();
    let z = zip_bytes(&[
        ("meta.xml", META_OCC.as_bytes()),
        ("occurrence.txt", OCC_TXT.as_bytes()),
    ]);
    let p = write(t.path(), "nodna.zip", &z);
    match read(&p) {
        Err(e @ DwcaError::MissingFile { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("dna.txt") && msg.contains("meta.xml"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    let z = zip_bytes(&[
        ("meta.xml", META_OCC.as_bytes()),
        ("occurrence.txt", b"occurrenceID\tlat\nocc1\t1\n".as_slice()),
        ("dna.txt", DNA_TXT.as_bytes()),
    ]);
    let p = write(t.path(), "narrow.zip", &z);
    match read(&p) {
        Err(e @ DwcaError::ColumnOutOfRange { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("occurrence.txt:1"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    let z = zip_bytes(&[
        ("meta.xml", b"<archive><core rowType='x'>".as_slice()),
        ("occurrence.txt", OCC_TXT.as_bytes()),
    ]);
    let p = write(t.path(), "badmeta.zip", &z);
    assert!(matches!(read(&p), Err(DwcaError::MetaXml { .. })));
}

#[test]
fn dwca_truncated_gzip() {
    let t = tmp();
    let d = t.path().join("trunc");
    let mut body = b"DNA_sequence\toccurrenceID\n".to_vec();
    for i in 0..5000 {
        body.extend_from_slice(format!("ACGTACGTTGCA{i}\tocc{i}\n").as_bytes());
    }
    let full = gz(&body);
    write(&d, "dna.tsv.gz", &full[..full.len() / 2]);
    let err = read(&d).expect_err("truncated");
    assert!(matches!(err, DwcaError::TruncatedGzip { .. }), "{err:?}");
    assert!(err.to_string().contains("dna.tsv.gz"), "{err}");
}

#[test]
fn dwca_latin1_and_bad_utf8() {
    let t = tmp();
    let d = t.path().join("latin");
    let meta = META_CSV.replace(
        "encoding=\"UTF-8\" fieldsTerminatedBy=\",\" linesTerminatedBy",
        "encoding=\"ISO-8859-1\" fieldsTerminatedBy=\",\" linesTerminatedBy",
    );
    write(&d, "meta.xml", meta.as_bytes());
    write(&d, "occ.csv", b"id,loc,lic\no1,S\xE3o Tom\xE9,x\n");
    write(&d, "dna.csv", b"id,seq,gene,p\no1,ACGT\xFF,12S,\n");
    let c = read_ok(&d);
    assert_eq!(c.occ("o1").locality.as_deref(), Some("São Tomé"));
    assert_eq!(c.occ("o1").dna[0].sequence, "ACGT\u{FFFD}");
    assert_eq!(c.reasons(), vec!["encoding"]);
}

#[test]
fn dwca_walk_skips_non_dna_archives() {
    let t = tmp();
    let root = t.path().join("mixed");
    let plain = META_OCC.replace(
        "http://rs.gbif.org/terms/1.0/DNADerivedData",
        "http://example.org/Other",
    );
    let z = zip_bytes(&[
        ("meta.xml", plain.as_bytes()),
        ("occurrence.txt", OCC_TXT.as_bytes()),
        ("dna.txt", DNA_TXT.as_bytes()),
    ]);
    write(&root, "a_plain.zip", &z);
    let z = zip_bytes(&[
        ("meta.xml", META_OCC.as_bytes()),
        ("occurrence.txt", OCC_TXT.as_bytes()),
        ("dna.txt", DNA_TXT.as_bytes()),
    ]);
    write(&root, "b_dna.zip", &z);
    let c = read_ok(&root);
    assert_eq!(c.datasets.len(), 1);
    assert_eq!(c.datasets[0].key, "mixed/b_dna.zip");
    assert_eq!(c.datasets[0].title, "b_dna.zip");
    assert!(c.reasons().contains(&"no-dna-table"));
    // Read directly, the non-DNA archive is an error.
    assert!(matches!(
        read(&root.join("a_plain.zip")),
        Err(DwcaError::NoTable { .. })
    ));
    let empty = t.path().join("empty");
    fs::create_dir_all(&empty).expect("mkdir");
    assert!(matches!(read(&empty), Err(DwcaError::NoTable { .. })));
}

/// Counts per dataset group (first three key components) and warnings per reason.
#[derive(Default)]
struct Count {
    group: String,
    /// group → (datasets, occurrences, DNA rows)
    per: std::collections::BTreeMap<String, (u64, u64, u64)>,
    reasons: std::collections::BTreeMap<&'static str, u64>,
}

impl DwcaSink for Count {
    fn dataset(&mut self, meta: DatasetMeta) {
        self.group = meta.key.split('/').take(3).collect::<Vec<_>>().join("/");
        self.per.entry(self.group.clone()).or_default().0 += 1;
    }
    fn occurrence(&mut self, record: OccurrenceRecord) {
        let e = self.per.entry(self.group.clone()).or_default();
        e.1 += 1;
        e.2 += record.dna.len() as u64;
    }
    fn warning(&mut self, warning: Warning) {
        *self.reasons.entry(warning.reason).or_default() += 1;
    }
}

/// Reads everything under /work/shared/data/dwca and prints counts and time:
/// `cargo test --release -p edna-index-builder dwca_real_data -- --ignored --nocapture`.
#[test]
#[ignore]
fn dwca_real_data() {
    let root = Path::new("/work/shared/data/dwca");
    let start = std::time::Instant::now();
    let mut c = Count::default();
    if let Err(e) = read_dwca(root, &ArchiveLimits::default(), &mut c) {
        panic!("{e}");
    }
    let elapsed = start.elapsed();
    let mut total = 0;
    for (g, (n, o, d)) in &c.per {
        println!("{g}: {n} datasets, {o} occurrences, {d} DNA rows");
        total += o;
    }
    println!("warnings: {:?}", c.reasons);
    println!("{total} occurrences in {elapsed:.2?}");
    assert_eq!(total, 13_375 + 916 + 851 + 208_519 + 979_493);
    assert_eq!(
        c.per["dwca/pacman_edna_expeditions/runs_complete"],
        (41, 208_519, 208_519)
    );
    assert_eq!(c.reasons.get("asv-catalog-only"), Some(&40));
}

/// Set the declared uncompressed size of every member to `size` (local and central headers), as a
/// hostile archive would.
fn lie_about_sizes(zip: &mut [u8], size: u32) {
    let mut i = 0;
    while i + 46 <= zip.len() {
        if zip[i..i + 4] == *b"PK\x03\x04" {
            zip[i + 22..i + 26].copy_from_slice(&size.to_le_bytes());
        } else if zip[i..i + 4] == *b"PK\x01\x02" {
            zip[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
        }
        i += 1;
    }
}

#[test]
fn dwca_zip_bomb_with_lying_sizes() {
    let t = tmp();
    let mut occ = OCC_TXT.as_bytes().to_vec();
    occ.extend(std::iter::repeat_n(b'\n', 4 << 20));
    let mut z = zip_bytes(&[
        ("meta.xml", META_OCC.as_bytes()),
        ("occurrence.txt", &occ),
        ("dna.txt", DNA_TXT.as_bytes()),
    ]);
    lie_about_sizes(&mut z, 8000);
    let p = write(t.path(), "liar.zip", &z);
    let err = read(&p).expect_err("declared size exceeded");
    // The zip reader or our guard stops it; either way the member is named.
    assert!(err.to_string().contains("liar.zip!/occurrence.txt"), "{err}");
}
