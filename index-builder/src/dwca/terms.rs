//! The Darwin Core, MIxS and GBIF DNA terms the readers use, matched by URI or column name.

/// A term the readers map into [`crate::model`] fields. Everything else is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Term {
    OccurrenceId,
    EventId,
    ParentEventId,
    EventDate,
    DecimalLatitude,
    DecimalLongitude,
    CountryCode,
    Locality,
    OrganismQuantity,
    OrganismQuantityType,
    SampleSizeValue,
    SampleSizeUnit,
    MaterialSampleId,
    BasisOfRecord,
    ScientificName,
    TaxonRank,
    Domain,
    Kingdom,
    Phylum,
    Class,
    Order,
    Family,
    Genus,
    Species,
    License,
    DnaSequence,
    TargetGene,
    TargetSubfragment,
    PcrPrimers,
    PcrPrimerForward,
    PcrPrimerReverse,
    PcrPrimerNameForward,
    PcrPrimerNameReverse,
}

impl Term {
    /// Number of variants (the size of per-term lookup tables).
    pub(crate) const COUNT: usize = 33;

    /// Ranks in lineage order, with the rank name used in [`crate::model::RankedName`].
    pub(crate) const RANKS: [(Term, &'static str); 8] = [
        (Term::Domain, "domain"),
        (Term::Kingdom, "kingdom"),
        (Term::Phylum, "phylum"),
        (Term::Class, "class"),
        (Term::Order, "order"),
        (Term::Family, "family"),
        (Term::Genus, "genus"),
        (Term::Species, "species"),
    ];

    /// Slot of this term in a `[_; Term::COUNT]` table.
    pub(crate) fn slot(self) -> usize {
        self as usize
    }

    /// Recognise a term URI (`http://rs.tdwg.org/dwc/terms/occurrenceID`, `https://w3id.org/mixs/0000044`,
    /// `https://w3id.org/gensc/terms/MIXS:0000044`, `http://gensc.org/ns/mixs/target_gene`, ...) or a bare
    /// column name (`occurrenceID`, `DNA_sequence`).
    ///
    /// Matching is on the local name, case-insensitively, because real archives use non-canonical
    /// namespaces (e.g. `http://rs.gbif.org/terms/1.0/DNA_sequence`).
    pub(crate) fn from_uri(uri: &str) -> Option<Term> {
        let local = local_name(uri);
        // MIxS terms are numbered; both the w3id and the older gensc forms end in the number.
        let digits = local
            .strip_prefix("MIXS:")
            .or_else(|| local.strip_prefix("mixs:"))
            .unwrap_or(local);
        match digits {
            "0000044" => return Some(Term::TargetGene),
            "0000045" => return Some(Term::TargetSubfragment),
            "0000046" => return Some(Term::PcrPrimers),
            _ => {}
        }
        let local = local.rsplit(':').next().unwrap_or(local);
        let t = match local.to_ascii_lowercase().as_str() {
            "occurrenceid" => Term::OccurrenceId,
            "eventid" => Term::EventId,
            "parenteventid" => Term::ParentEventId,
            "eventdate" => Term::EventDate,
            "decimallatitude" => Term::DecimalLatitude,
            "decimallongitude" => Term::DecimalLongitude,
            "countrycode" => Term::CountryCode,
            "locality" => Term::Locality,
            "organismquantity" => Term::OrganismQuantity,
            "organismquantitytype" => Term::OrganismQuantityType,
            "samplesizevalue" => Term::SampleSizeValue,
            "samplesizeunit" => Term::SampleSizeUnit,
            "materialsampleid" => Term::MaterialSampleId,
            "basisofrecord" => Term::BasisOfRecord,
            "scientificname" => Term::ScientificName,
            "taxonrank" => Term::TaxonRank,
            "domain" | "superkingdom" => Term::Domain,
            "kingdom" => Term::Kingdom,
            "phylum" => Term::Phylum,
            "class" => Term::Class,
            "order" => Term::Order,
            "family" => Term::Family,
            "genus" => Term::Genus,
            "species" => Term::Species,
            "license" | "licence" => Term::License,
            "dna_sequence" => Term::DnaSequence,
            "target_gene" => Term::TargetGene,
            "target_subfragment" => Term::TargetSubfragment,
            "pcr_primers" => Term::PcrPrimers,
            "pcr_primer_forward" => Term::PcrPrimerForward,
            "pcr_primer_reverse" => Term::PcrPrimerReverse,
            "pcr_primer_name_forward" => Term::PcrPrimerNameForward,
            "pcr_primer_name_reverse" => Term::PcrPrimerNameReverse,
            _ => return None,
        };
        Some(t)
    }
}

/// The part of a term URI after the last `/` or `#` (the whole string when it has neither).
pub(crate) fn local_name(uri: &str) -> &str {
    let uri = uri.trim();
    uri.rsplit(['/', '#']).next().unwrap_or(uri)
}

/// Whether a row type URI names the given class (`http://rs.tdwg.org/dwc/terms/Occurrence` → `Occurrence`).
pub(crate) fn row_type_is(row_type: &str, class: &str) -> bool {
    local_name(row_type).eq_ignore_ascii_case(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dwca_terms_match_all_uri_forms() {
        for uri in [
            "https://w3id.org/mixs/0000044",
            "https://w3id.org/gensc/terms/MIXS:0000044",
            "http://gensc.org/ns/mixs/target_gene",
            "http://rs.gbif.org/terms/1.0/target_gene",
            "target_gene",
        ] {
            assert_eq!(Term::from_uri(uri), Some(Term::TargetGene), "{uri}");
        }
        assert_eq!(
            Term::from_uri("http://rs.gbif.org/terms/dna_sequence"),
            Some(Term::DnaSequence)
        );
        assert_eq!(Term::from_uri("DNA_sequence"), Some(Term::DnaSequence));
        assert_eq!(
            Term::from_uri("http://rs.tdwg.org/dwc/terms/occurrenceID"),
            Some(Term::OccurrenceId)
        );
        assert_eq!(Term::from_uri("dwc:eventDate"), Some(Term::EventDate));
        assert_eq!(Term::from_uri("http://purl.org/dc/terms/license"), Some(Term::License));
        assert_eq!(Term::from_uri("https://w3id.org/mixs/0000046"), Some(Term::PcrPrimers));
        assert_eq!(Term::from_uri("https://w3id.org/mixs/0000050"), None);
        assert_eq!(Term::from_uri("identificationRemarks"), None);
        assert!(row_type_is(
            "http://rs.gbif.org/terms/1.0/DNADerivedData",
            "DNADerivedData"
        ));
    }

    #[test]
    fn dwca_term_slots_are_dense() {
        assert_eq!(Term::PcrPrimerNameReverse.slot() + 1, Term::COUNT);
    }
}
