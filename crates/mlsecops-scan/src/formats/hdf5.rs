//! TEMPORARY placeholder until the HDF5 reader lands (replaced in this session).
#[derive(Debug, Clone)]
pub struct Hdf5Limits;
impl Default for Hdf5Limits {
    fn default() -> Self {
        Self
    }
}
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    StrList(Vec<String>),
    Other,
}
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub object_path: String,
    pub name: String,
    pub value: AttrValue,
    pub offset: u64,
}
#[derive(Debug, thiserror::Error)]
pub enum Hdf5Error {
    #[error("not an HDF5 file")]
    NotHdf5,
}
pub fn find_superblock(data: &[u8]) -> Option<u64> {
    data.starts_with(b"\x89HDF\r\n\x1a\n").then_some(0)
}
pub fn attributes(_data: &[u8], _limits: &Hdf5Limits) -> Result<Vec<Attribute>, Hdf5Error> {
    Err(Hdf5Error::NotHdf5)
}
pub fn global_heap_strings(_data: &[u8], _limits: &Hdf5Limits) -> Vec<(u64, String)> {
    Vec::new()
}
