// The umbrella module: `import Evident` brings in the whole library.
@_exported import EvidentIR
@_exported import EvidentONNX
@_exported import EvidentNNet
@_exported import EvidentVNNLib
@_exported import EvidentEval
@_exported import EvidentLP
@_exported import EvidentBounds
@_exported import EvidentIO
@_exported import EvidentCertificate
@_exported import EvidentChecker
@_exported import EvidentVerification
@_exported import EvidentExplanations
@_exported import EvidentCampaign
