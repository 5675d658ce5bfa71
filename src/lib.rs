//! edna-search
