//! Skill files: the built-in skills embedded in the binary, and [`SkillFiles`], the
//! [`foreman_domain::skill::SkillCatalog`] that finds skills in the data directory and in each
//! project's repository (as committed on its default branch) beside them. The file format and
//! its rules are `foreman_domain::skill::parse`'s; running a skill is the hooks' business.

pub mod builtin;
pub mod catalog;

pub use builtin::{BUILTIN_SKILLS, builtin_path};
pub use catalog::{
    DATA_DIR_SKILLS_DIR, MAX_SKILLS_PER_SOURCE, REPOSITORY_SKILLS_DIR, SKILL_FILE, SkillFiles,
};
