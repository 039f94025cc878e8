// Reading the files Evident takes as input (plain or gzip-compressed) and hashing their contents.
// Placeholder; see the file-reading work item.
