// The services travel in ring packets too: every module that reads them sees the one `Service`.
@_exported import enum ChorusSchema.Service
