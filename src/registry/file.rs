//! The embedded registry: one human-readable JSON file, written atomically under a lock.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ModelVersion, RegisteredModel, Registry, RegistryError, Result, Stage, VersionQuery};
use crate::clock;

/// Marks the file as ours, so a foreign JSON file is refused instead of overwritten.
const SCHEMA: &str = "mlrb-registry";
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    schema: String,
    schema_version: u32,
    #[serde(default)]
    models: BTreeMap<String, StoredModel>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredModel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    aliases: BTreeMap<String, u64>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    versions: Vec<ModelVersion>,
}

pub struct FileRegistry {
    path: PathBuf,
}

impl FileRegistry {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileRegistry { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, detail: impl Into<String>) -> RegistryError {
        RegistryError::File {
            path: self.path.display().to_string(),
            detail: detail.into(),
        }
    }

    fn lock(&self) -> Result<File> {
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.err(format!("cannot open its lock file: {e}")))?;
        f.lock()
            .map_err(|e| self.err(format!("cannot take its lock: {e}")))?;
        Ok(f)
    }

    fn load(&self) -> Result<Document> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.err(
                    "does not exist; create it with `mlrb demo --dir DIR` or point [registry].path at the right file",
                ));
            }
            Err(e) => return Err(self.err(format!("cannot be read: {e}"))),
        };
        let probe: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            self.err(format!(
                "is not valid JSON (line {}, column {}): {e}; restore it from a backup",
                e.line(),
                e.column()
            ))
        })?;
        if probe.get("schema").and_then(|s| s.as_str()) != Some(SCHEMA) {
            return Err(self.err(format!(
                "is not an mlrb registry (no \"schema\": \"{SCHEMA}\"); mlrb will not touch it"
            )));
        }
        match probe.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(self.err(format!(
                    "has schema_version {v}; this mlrb reads version {SCHEMA_VERSION}, upgrade mlrb"
                )));
            }
            None => return Err(self.err("has no numeric schema_version")),
        }
        let doc: Document = serde_json::from_value(probe)
            .map_err(|e| self.err(format!("is damaged: {e}; restore it from a backup")))?;
        for (name, m) in &doc.models {
            let mut seen = std::collections::BTreeSet::new();
            for v in &m.versions {
                if !seen.insert(v.version) {
                    return Err(self.err(format!(
                        "is damaged: model {name} lists version {} twice",
                        v.version
                    )));
                }
            }
        }
        Ok(doc)
    }

    /// temp file in the same directory + fsync + rename + fsync of the directory: a reader sees
    /// the old file or the new one, never half of either.
    fn store(&self, doc: &Document) -> Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| self.err(format!("cannot create a temp file beside it: {e}")))?;
        let mut body = serde_json::to_vec_pretty(doc).map_err(|e| self.err(e.to_string()))?;
        body.push(b'\n');
        // A shared registry stays shared: the new file keeps the old one's mode (a temp file is
        // created 0600).
        let keep = fs::metadata(&self.path).map(|m| m.permissions());
        tmp.write_all(&body)
            .and_then(|_| match keep {
                Ok(p) => tmp.as_file().set_permissions(p),
                Err(_) => Ok(()),
            })
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| self.err(format!("cannot write: {e}")))?;
        tmp.persist(&self.path)
            .map_err(|e| self.err(format!("cannot replace: {}", e.error)))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads, changes and writes the file under the lock. Nothing is written when `f` fails.
    fn update<T>(&self, f: impl FnOnce(&mut Document) -> Result<T>) -> Result<T> {
        let _lock = self.lock()?;
        let mut doc = self.load()?;
        let out = f(&mut doc)?;
        self.store(&doc)?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Document) -> Result<T>) -> Result<T> {
        let doc = self.load()?;
        f(&doc)
    }

    /// Creates an empty registry file; refuses to replace an existing one.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self> {
        let reg = FileRegistry::new(path);
        if reg.path.exists() {
            return Err(reg.err("already exists; mlrb will not overwrite a registry"));
        }
        reg.store(&Document {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            models: BTreeMap::new(),
        })?;
        Ok(reg)
    }

    /// Registers a new version (the next number) and returns it.
    pub fn add_version(
        &self,
        name: &str,
        source: &str,
        stage: Stage,
        tags: &[(&str, &str)],
        created_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<u64> {
        self.update(|doc| {
            let now = created_at.unwrap_or_else(clock::now);
            let model = doc
                .models
                .entry(name.to_string())
                .or_insert_with(|| StoredModel {
                    created_at: Some(now),
                    aliases: BTreeMap::new(),
                    tags: BTreeMap::new(),
                    versions: Vec::new(),
                });
            let next = model.versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
            model.versions.push(ModelVersion {
                version: next,
                stage,
                aliases: Vec::new(),
                tags: tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                source: source.to_string(),
                run_id: None,
                status: "READY".into(),
                created_at: Some(now),
                updated_at: Some(now),
            });
            Ok(next)
        })
    }
}

fn model_of<'a>(doc: &'a Document, name: &str) -> Result<&'a StoredModel> {
    doc.models.get(name).ok_or_else(|| RegistryError::NotFound {
        what: format!("model `{name}`"),
    })
}

fn version_of<'a>(doc: &'a mut Document, name: &str, version: u64) -> Result<&'a mut ModelVersion> {
    let model = doc
        .models
        .get_mut(name)
        .ok_or_else(|| RegistryError::NotFound {
            what: format!("model `{name}`"),
        })?;
    model
        .versions
        .iter_mut()
        .find(|v| v.version == version)
        .ok_or_else(|| RegistryError::NotFound {
            what: format!("version {version} of model `{name}`"),
        })
}

fn with_aliases(model: &StoredModel, v: &ModelVersion) -> ModelVersion {
    let mut v = v.clone();
    v.aliases = model
        .aliases
        .iter()
        .filter(|(_, ver)| **ver == v.version)
        .map(|(a, _)| a.clone())
        .collect();
    v
}

impl Registry for FileRegistry {
    fn remove_drill_marks(
        &self,
        name: &str,
        version: Option<u64>,
        tag_keys: &[String],
        aliases: &[String],
    ) -> Result<()> {
        self.update(|doc| {
            if let Some(n) = version {
                let v = version_of(doc, name, n)?;
                for k in tag_keys {
                    v.tags.remove(k);
                }
            }
            let m = doc
                .models
                .get_mut(name)
                .ok_or_else(|| RegistryError::NotFound {
                    what: format!("model `{name}`"),
                })?;
            if version.is_none() {
                for k in tag_keys {
                    m.tags.remove(k);
                }
            }
            for a in aliases {
                m.aliases.remove(a);
            }
            Ok(())
        })
    }

    fn location(&self) -> String {
        format!("file registry {}", self.path.display())
    }

    fn get_model(&self, name: &str) -> Result<RegisteredModel> {
        self.read(|doc| {
            let m = model_of(doc, name)?;
            Ok(RegisteredModel {
                name: name.to_string(),
                aliases: m.aliases.clone(),
                tags: m.tags.clone(),
                latest: super::latest_by_stage(&m.versions),
            })
        })
    }

    fn list_models(&self) -> Result<Vec<String>> {
        self.read(|doc| Ok(doc.models.keys().cloned().collect()))
    }

    fn get_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.read(|doc| {
            let m = model_of(doc, name)?;
            m.versions
                .iter()
                .find(|v| v.version == version)
                .map(|v| with_aliases(m, v))
                .ok_or_else(|| RegistryError::NotFound {
                    what: format!("version {version} of model `{name}`"),
                })
        })
    }

    fn search_versions(&self, name: &str, query: &VersionQuery) -> Result<Vec<ModelVersion>> {
        self.read(|doc| {
            let Some(m) = doc.models.get(name) else {
                return Ok(Vec::new());
            };
            let mut out: Vec<ModelVersion> = m
                .versions
                .iter()
                .filter(|v| {
                    query
                        .tags
                        .iter()
                        .all(|(k, val)| v.tag(k).is_some_and(|t| t.eq_ignore_ascii_case(val)))
                })
                .map(|v| with_aliases(m, v))
                .collect();
            out.sort_by_key(|v| std::cmp::Reverse(v.version));
            if let Some(limit) = query.limit {
                out.truncate(limit);
            }
            Ok(out)
        })
    }

    fn transition_stage(&self, name: &str, version: u64, stage: Stage) -> Result<()> {
        self.update(|doc| {
            let v = version_of(doc, name, version)?;
            v.stage = stage;
            v.updated_at = Some(clock::now());
            Ok(())
        })
    }

    fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        self.update(|doc| {
            version_of(doc, name, version)?;
            let m = doc.models.get_mut(name).expect("checked above");
            m.aliases.insert(alias.to_string(), version);
            Ok(())
        })
    }

    fn set_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        self.update(|doc| {
            let m = doc
                .models
                .get_mut(name)
                .ok_or_else(|| RegistryError::NotFound {
                    what: format!("model `{name}`"),
                })?;
            m.tags.insert(key.to_string(), value.to_string());
            Ok(())
        })
    }

    fn set_version_tag(&self, name: &str, version: u64, key: &str, value: &str) -> Result<()> {
        self.set_version_tags(name, version, &[(key.to_string(), value.to_string())])
    }

    fn set_version_tags(&self, name: &str, version: u64, tags: &[(String, String)]) -> Result<()> {
        self.update(|doc| {
            let v = version_of(doc, name, version)?;
            for (k, val) in tags {
                v.tags.insert(k.clone(), val.clone());
            }
            v.updated_at = Some(clock::now());
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("reg.json");
        let reg = FileRegistry::create(&p).unwrap();
        let v1 = reg
            .add_version("m", "s3://m/1", Stage::Archived, &[], None)
            .unwrap();
        let v2 = reg
            .add_version("m", "s3://m/2", Stage::Production, &[], None)
            .unwrap();
        assert_eq!((v1, v2), (1, 2));
        reg.set_alias("m", "champion", 2).unwrap();
        let all = reg.search_versions("m", &VersionQuery::all()).unwrap();
        assert_eq!(all[0].version, 2);
        assert_eq!(all[0].aliases, vec!["champion".to_string()]);
        assert!(matches!(
            reg.get_version("m", 9),
            Err(RegistryError::NotFound { .. })
        ));

        fs::write(&p, r#"{"hello": 1}"#).unwrap();
        let e = reg.get_model("m").unwrap_err().to_string();
        assert!(e.contains("not an mlrb registry"), "{e}");
        fs::write(&p, "{ not json").unwrap();
        let e = reg.get_model("m").unwrap_err().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
    }
}
